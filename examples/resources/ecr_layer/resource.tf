# Push a file (here a gzipped tar, as image layers are) to a repository.
resource "ecr_layer" "app" {
  repository_name = "team/app"
  source          = "${path.module}/build/app-layer.tar.gz"
}

# The digest is known at plan; the id names the blob in ECR.
output "layer" {
  value = {
    id     = ecr_layer.app.id     # "123456789012/team/app@sha256:..."
    digest = ecr_layer.app.digest # "sha256:..."
    size   = ecr_layer.app.size
  }
}

# Push through an upload opened by ecr_layer_upload (Terraform 1.11 or
# OpenTofu 1.11 and later): the upload ID and part size are write-only here,
# so neither reaches the plan or the state.
ephemeral "ecr_layer_upload" "config" {
  repository_name = "team/app"
}

resource "ecr_layer" "config" {
  repository_name = "team/app"
  source          = "${path.module}/build/config.json"
  upload_id_wo    = ephemeral.ecr_layer_upload.config.upload_id
  part_size_wo    = ephemeral.ecr_layer_upload.config.part_size
}

# Many layers: each is pushed once, in parallel, and skipped when the
# repository already has it.
resource "ecr_layer" "layers" {
  for_each        = fileset("${path.module}/build/layers", "*.tar.gz")
  repository_name = "team/app"
  source          = "${path.module}/build/layers/${each.value}"
}
