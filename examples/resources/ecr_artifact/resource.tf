# An SBOM attached to the image it describes: ECR lists it among the image's
# referrers (`oras discover`, the registry's referrers API), and it needs no
# tag. digest is known at plan, from the file and the planned image.
resource "ecr_image" "app" {
  repository_name = "team/app"
  source          = "${path.module}/build/app-layout"
  tags            = ["v1.4.2"]
}

resource "ecr_artifact" "sbom" {
  repository_name = "team/app"
  subject_digest  = ecr_image.app.image_digest
  artifact_type   = "application/spdx+json"
  files = [
    { path = "${path.module}/build/sbom.spdx.json", media_type = "application/spdx+json" },
  ]
  annotations = {
    "org.opencontainers.image.created" = "2026-11-30T00:00:00Z"
  }
}

# Without a subject: any artifact, as `oras push` publishes one, pulled by tag.
resource "ecr_artifact" "policy" {
  repository_name = "team/policies"
  artifact_type   = "application/vnd.cncf.openpolicyagent.bundle"
  files = [
    { path = "${path.module}/build/bundle.tar.gz", media_type = "application/vnd.cncf.openpolicyagent.layer.v1.tar+gzip" },
  ]
  tags = ["v3"]
}
