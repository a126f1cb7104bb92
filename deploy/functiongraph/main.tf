# image-triage on Huawei Cloud FunctionGraph: the function (custom runtime, ZIP with `bootstrap`),
# its agency (temporary AK/SK for OBS, Image Recognition and Content Moderation), and the OBS
# trigger. Usage:
#   terraform init && terraform apply -var bucket_name=my-photos -var code_zip=image-triage.zip

terraform {
  required_providers {
    huaweicloud = {
      source  = "huaweicloud/huaweicloud"
      version = ">= 1.60"
    }
  }
}

variable "region" {
  type    = string
  default = "cn-north-4"
}

variable "bucket_name" {
  type        = string
  description = "Existing OBS bucket whose uploads are triaged (same region as the function and the AI services)."
}

variable "upload_prefix" {
  type        = string
  default     = "uploads/"
  description = "Only keys under this prefix trigger the function; keep the results and quarantine prefixes outside it."
}

variable "code_zip" {
  type        = string
  default     = "image-triage.zip"
  description = "ZIP with `bootstrap` and the `image-triage` binary at its root."
}

variable "function_name" {
  type    = string
  default = "image-triage"
}

provider "huaweicloud" {
  region = var.region
}

data "huaweicloud_identity_projects" "this" {
  name = var.region
}

# FunctionGraph (service op_svc_cff) assumes this agency and hands the function temporary
# credentials (X-CFF-Access-Key / -Secret-Key / -Security-Token) on every invocation.
resource "huaweicloud_identity_agency" "triage" {
  name                   = "${var.function_name}-agency"
  description            = "image-triage: read/write objects and metadata, call Image Tagging and Moderation"
  delegated_service_name = "op_svc_cff"

  # Objects: HEAD, ranged GET, PUT (sidecar), PUT ?metadata / ?tagging / ?acl, copy, delete.
  domain_roles = ["OBS OperateAccess"]

  # Image Recognition and Content Moderation calls in the function's region (seed 004 §7:
  # "Tenant Guest" on the region's project).
  project_role {
    project = var.region
    roles   = ["Tenant Guest"]
  }
}

resource "huaweicloud_fgs_function" "triage" {
  name          = var.function_name
  app           = "default"
  agency        = huaweicloud_identity_agency.triage.name
  description   = "Tag and moderate every image uploaded to ${var.bucket_name}"
  runtime       = "Custom"
  handler       = "bootstrap"
  code_type     = "zip"
  code_filename = "image-triage.zip"
  func_code     = filebase64(var.code_zip)
  memory_size   = 256
  timeout       = 60

  user_data = jsonencode({
    TRIAGE_HUAWEI_REGION         = var.region
    HUAWEICLOUD_SDK_PROJECT_ID   = data.huaweicloud_identity_projects.this.projects[0].id
    TRIAGE_LABELER               = "huawei"
    TRIAGE_MODERATOR             = "huawei"
    TRIAGE_LABEL_LANGUAGE        = "en"
    TRIAGE_MODERATION_EVENT_TYPE = "album"
    TRIAGE_RESULTS_PREFIX        = "triage-results/"
    TRIAGE_QUARANTINE_PREFIX     = "triage-quarantine/"
    TRIAGE_BLOCK_ACTION          = "private"
    TRIAGE_LOG_FORMAT            = "json"
  })
}

# Uploads only (no ObjectCreated:Copy): a copy is what a metadata fallback or a quarantine move
# writes, so it never needs triage. The prefix keeps the function's own outputs out.
resource "huaweicloud_fgs_trigger" "obs_upload" {
  function_urn = huaweicloud_fgs_function.triage.urn
  type         = "OBS"
  status       = "ACTIVE"

  obs {
    bucket_name             = var.bucket_name
    event_notification_name = "${var.function_name}-uploads"
    prefix                  = var.upload_prefix
    events = [
      "ObjectCreated:Put",
      "ObjectCreated:Post",
      "ObjectCreated:CompleteMultipartUpload",
    ]
  }
}

output "function_urn" {
  value = huaweicloud_fgs_function.triage.urn
}
