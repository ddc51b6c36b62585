# Push an image built elsewhere (ko, apko, buildah, `docker buildx --output
# type=oci,dest=build/app.oci.tar`, `docker save`), with no Docker daemon.
resource "ecr_image" "app" {
  repository_name = "team/app"
  source          = "${path.module}/build/app-layout" # an OCI image layout directory
  tags            = ["v1.4.2", "latest"]
}

# From a multi-platform build, push only the arm64 image: AWS Lambda refuses
# indexes. image_uri is by digest, so the function is updated whenever the
# image changes.
resource "ecr_image" "lambda" {
  repository_name = "team/functions"
  source          = "${path.module}/build/fn.oci.tar"
  platform        = "linux/arm64"
}

# In aws_lambda_function: package_type = "Image",
# image_uri = ecr_image.lambda.image_uri, architectures = ["arm64"].
output "lambda_image_uri" {
  value = ecr_image.lambda.image_uri # "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/functions@sha256:..."
}

# A layout that holds several images: pick one by its ref name annotation.
resource "ecr_image" "worker" {
  repository_name = "team/worker"
  source          = "${path.module}/build/images"
  ref             = "worker"
  keep_remotely   = true # destroy only forgets it: running tasks keep pulling it
}

# Mirror an image from another registry, pinned: each plan asks Docker Hub
# which digest the tag names now, and a new one is an in-place update. No
# Docker daemon; layers stream from the registry into ECR.
resource "ecr_image" "nginx" {
  repository_name = "mirror/nginx"
  source_image    = "nginx:1.27-alpine"
  platform        = "linux/amd64"
  tags            = ["1.27-alpine"]
}

# From a private registry the Docker config has no login for.
variable "ghcr_token" {
  type      = string
  sensitive = true
}

resource "ecr_image" "vendor" {
  repository_name    = "mirror/vendor-agent"
  source_image       = "ghcr.io/vendor/agent:2.3.1"
  source_username    = "ci-bot"
  source_password_wo = var.ghcr_token # write-only: never in the plan or the state
}
