# Copyright (c) ecrlabs
# SPDX-License-Identifier: MPL-2.0

# The demo `make demo` runs against the local ECR endpoint:
# 1. it opens an ecr_layer_upload and a provisioner prints its upload ID and
#    part size (neither is written to state);
# 2. ecr_layer pushes a small layer through that very upload (the
#    write-only hand-in), so the digest ECR stored can be compared with
#    sha256sum of the file;
# 3. ecr_image pushes a small multi-layer image from an OCI layout, for
#    crane to read back by the image_uri's repository and digest;
# 4. ecr_image copies an image from another registry (make demo runs
#    go-containerregistry's registry on loopback), streaming its layers.

terraform {
  required_version = ">= 1.11" # write-only arguments
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
  description = "Repository to push to."
  type        = string
  default     = "demo/app"
}

variable "layer_file" {
  description = "The blob to push through the upload ecr_layer_upload opens (make demo writes a small gzipped tar)."
  type        = string
}

variable "image_source" {
  description = "An OCI image layout directory (make demo writes a three-layer image)."
  type        = string
}

variable "source_image" {
  description = "An image in another registry to copy (make demo pushes one to a registry on loopback)."
  type        = string
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

# The layer goes through the upload opened above: write-only arguments, so
# the upload ID and part size reach neither the plan nor the state.
resource "ecr_layer" "demo" {
  repository_name = var.repository_name
  source          = var.layer_file
  upload_id_wo    = ephemeral.ecr_layer_upload.demo.upload_id
  part_size_wo    = ephemeral.ecr_layer_upload.demo.part_size
}

resource "ecr_image" "demo" {
  repository_name = var.repository_name
  source          = var.image_source
  tags            = ["demo"]
}

resource "ecr_image" "mirror" {
  repository_name = var.repository_name
  source_image    = var.source_image
  tags            = ["tool-1.0"]
}

output "layer_digest" {
  value = ecr_layer.demo.digest
}

output "image_digest" {
  value = ecr_image.demo.image_digest
}

output "image_uri" {
  value = ecr_image.demo.image_uri
}

output "mirror_digest" {
  value = ecr_image.mirror.image_digest
}
