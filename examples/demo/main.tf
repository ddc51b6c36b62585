# The demo `make demo` runs: it opens an ecr_layer_upload against the local
# ECR endpoint and prints the upload ID and part size from a provisioner.
# Neither value is written to state.

terraform {
  required_version = ">= 1.10"
  required_providers {
    ecr = {
      source = "ecrlabs/ecr"
    }
  }
}

variable "ecr_endpoint" {
  description = "URL of the ECR endpoint (make demo passes the local one)."
  type        = string
}

variable "report_file" {
  description = "File the provisioner writes what it got to (Terraform hides provisioner output that uses ephemeral values)."
  type        = string
  default     = "upload.txt"
}

variable "repository_name" {
  description = "Repository to start the upload in."
  type        = string
  default     = "demo/app"
}

provider "ecr" {
  region = "eu-west-1"
  endpoints {
    ecr = var.ecr_endpoint
    sts = var.ecr_endpoint
  }
}

ephemeral "ecr_layer_upload" "demo" {
  repository_name = var.repository_name
}

resource "terraform_data" "show_upload" {
  provisioner "local-exec" {
    command = "echo \"upload_id=$UPLOAD_ID part_size=$PART_SIZE\" > \"$REPORT_FILE\""
    environment = {
      REPORT_FILE = var.report_file
      UPLOAD_ID   = ephemeral.ecr_layer_upload.demo.upload_id
      PART_SIZE   = ephemeral.ecr_layer_upload.demo.part_size
    }
  }
}
