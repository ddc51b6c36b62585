# Deploy an image only when an SPDX SBOM has been attached to it (pushed with
# the image as its OCI 1.1 subject, by syft or `oras attach`, say).
variable "image_digest" {
  description = "The digest to deploy, such as ecr_image.app.image_digest."
  type        = string
}

data "ecr_image_referrers" "sbom" {
  repository_name = "team/app"
  subject_digest  = var.image_digest
  artifact_types  = ["application/spdx+json"]
}

# Stands in for what deploys the image, such as:
#   resource "aws_lambda_function" "app" {
#     package_type = "Image"
#     image_uri    = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app@${var.image_digest}"
#     lifecycle { precondition { ... } } # the same precondition as below
#   }
resource "terraform_data" "deploy" {
  input = var.image_digest

  lifecycle {
    precondition {
      condition     = length(data.ecr_image_referrers.sbom.referrers) > 0
      error_message = "Image ${var.image_digest} has no SPDX SBOM in team/app: attach one before deploying it."
    }
  }
}

output "sbom_digests" {
  value = data.ecr_image_referrers.sbom.referrers[*].digest
}
