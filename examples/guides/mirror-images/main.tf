terraform {
  required_providers {
    ecr = {
      source = "ecrlabs/ecr"
    }
  }
}

provider "ecr" {
  region = "eu-west-1"
}

# Public images, pinned by what the tag names at plan. A new upstream build
# of the tag is an in-place update: the plan shows the new digest.
locals {
  mirrors = {
    "mirror/nginx"    = "nginx:1.27-alpine"
    "mirror/redis"    = "redis:7.4"
    "mirror/otel-col" = "ghcr.io/open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-contrib:0.114.0"
  }
}

resource "ecr_image" "mirror" {
  for_each        = local.mirrors
  repository_name = each.key
  source_image    = each.value
  tags            = [split(":", each.value)[length(split(":", each.value)) - 1]]
  keep_remotely   = true # running tasks keep pulling the old digest
}

# Frozen: a digest reference is never re-resolved; the bytes are checked
# against it. Take the digest from `crane digest gcr.io/distroless/static-debian12:nonroot`
# once you have vetted the image.
variable "distroless_digest" {
  type = string
  validation {
    condition     = can(regex("^sha256:[0-9a-f]{64}$", var.distroless_digest))
    error_message = "distroless_digest must be sha256: and 64 hex digits."
  }
}

resource "ecr_image" "base" {
  repository_name = "mirror/distroless-static"
  source_image    = "gcr.io/distroless/static-debian12@${var.distroless_digest}"
  tags            = ["nonroot"]
}

# From another AWS account's registry (a platform team's), read with this
# provider's AWS credentials: that repository's policy must allow
# ecr:BatchGetImage, ecr:GetDownloadUrlForLayer and
# ecr:BatchCheckLayerAvailability to this principal.
resource "ecr_image" "agent" {
  repository_name = "team/agent"
  source_image    = "210987654321.dkr.ecr.eu-central-1.amazonaws.com/platform/agent:v7"
  tags            = ["v7"]
}

# For Lambda, one platform: Lambda refuses multi-platform indexes.
resource "ecr_image" "lambda_base" {
  repository_name = "mirror/lambda-python"
  source_image    = "public.ecr.aws/lambda/python:3.13"
  platform        = "linux/arm64"
}

output "mirrored" {
  value = { for k, v in ecr_image.mirror : k => v.image_uri }
}
