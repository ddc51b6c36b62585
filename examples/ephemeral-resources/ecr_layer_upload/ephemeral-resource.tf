# Start an upload in the caller's own registry.
ephemeral "ecr_layer_upload" "base" {
  repository_name = "team/app"
}

# Start one in another account's registry, in another region.
ephemeral "ecr_layer_upload" "shared" {
  repository_name = "shared/base"
  registry_id     = "210987654321"
  region          = "us-east-1"
}

# The results can go where ephemeral values may: provisioners, provider
# blocks, write-only arguments and other ephemeral resources. Here a
# provisioner hands them to a script; Terraform hides its output because the
# values are ephemeral, and nothing of them is stored in state.
resource "terraform_data" "push" {
  provisioner "local-exec" {
    command = "./push-layer.sh layer.tar.gz"
    environment = {
      ECR_UPLOAD_ID = ephemeral.ecr_layer_upload.base.upload_id
      ECR_PART_SIZE = ephemeral.ecr_layer_upload.base.part_size
    }
  }
}
