# The ECR side of "Push an image built elsewhere and run it on Lambda". The
# aws_lambda_function that uses image_uri is shown on the guide's page: it
# needs the AWS provider, which these examples do not install.
variable "image_dir" {
  description = "OCI image layout written by the build step (ko, apko, buildah, docker buildx --output type=oci)."
  type        = string
  default     = "build/fn"
}

resource "ecr_image" "fn" {
  repository_name = "team/functions"
  source          = var.image_dir
  platform        = "linux/arm64" # Lambda refuses multi-platform indexes
  tags            = ["main"]
  keep_remotely   = true # replacing the image leaves the old one for versions that still run it

  timeouts {
    create = "30m"
  }
}

output "image_uri" {
  description = "By digest: a new image means a new URI, so Lambda updates the function."
  value       = ecr_image.fn.image_uri
}
