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

variable "layout" {
  description = "The OCI layout the build wrote: the image, and its signature as an OCI 1.1 referrer (oras cp -r)."
  type        = string
}

# The image and every referrer the layout lists (the cosign signature), put
# before any tag names the image.
resource "ecr_image" "app" {
  repository_name = "team/app"
  source          = var.layout
  ref             = "v1"
  tags            = ["v1"]
}

# The SBOM syft wrote, attached to the image as its subject. Its digest is
# known at plan: a new SBOM for the same image is an in-place update.
resource "ecr_artifact" "sbom" {
  repository_name = "team/app"
  subject_digest  = ecr_image.app.image_digest
  artifact_type   = "application/spdx+json"
  files = [
    { path = "${path.module}/build/sbom.spdx.json", media_type = "application/spdx+json" },
  ]
}

# What ECR lists for the image, read after both are pushed.
data "ecr_image_referrers" "app" {
  repository_name = "team/app"
  subject_digest  = ecr_image.app.image_digest
  depends_on      = [ecr_artifact.sbom]
}

locals {
  referrer_types = toset(data.ecr_image_referrers.app.referrers[*].artifact_type)
}

# Stands in for the deploy (an aws_lambda_function, an ECS service): it runs
# only when the image has both an SBOM and a signature in ECR.
resource "terraform_data" "deploy" {
  input = ecr_image.app.image_uri

  lifecycle {
    precondition {
      condition     = contains(local.referrer_types, "application/spdx+json")
      error_message = "The image has no SPDX SBOM in ECR."
    }
    precondition {
      condition     = contains(local.referrer_types, "application/vnd.dev.sigstore.bundle.v0.3+json")
      error_message = "The image has no cosign signature in ECR."
    }
  }
}
