# image-triage on Huawei Cloud FunctionGraph: the function (custom runtime, ZIP with `bootstrap`),
# the agency FunctionGraph hands the function's temporary AK/SK/token from (a custom OBS policy
# with exactly the write-back's actions, plus Image Tagging / Content Moderation), the OBS
# trigger on the upload prefix, and the async retry settings. Walkthrough: docs/huawei.md.
#   deploy/functiongraph/package.sh x86_64
#   cd deploy/functiongraph && terraform init && terraform apply -var bucket_name=my-photos
# Every resource and attribute was checked against the provider's source (v1.97.1-21,
# tests/deploy_huawei/provider-schema.json; tests/deploy_huawei.rs).

terraform {
  required_version = ">= 1.3"
  required_providers {
    huaweicloud = {
      source  = "huaweicloud/huaweicloud"
      version = "~> 1.97"
    }
  }
}

variable "region" {
  type        = string
  default     = "cn-north-4"
  description = "Region of the bucket, the function and the AI services (Image Tagging: cn-north-4, cn-east-3)."
}

variable "bucket_name" {
  type        = string
  description = "Existing OBS bucket whose uploads are triaged, in var.region."
}

variable "upload_prefix" {
  type        = string
  default     = "uploads/"
  description = "Only keys under this prefix trigger the function; the results, quarantine and failure prefixes must lie outside it."

  validation {
    condition     = length(var.upload_prefix) > 0 && substr(var.upload_prefix, -1, 1) == "/"
    error_message = "upload_prefix must be a non-empty folder prefix ending in /, e.g. uploads/."
  }
}

variable "results_prefix" {
  type        = string
  default     = "triage-results/"
  description = "TRIAGE_RESULTS_PREFIX: where the JSON sidecars go."
}

variable "quarantine_prefix" {
  type        = string
  default     = "triage-quarantine/"
  description = "TRIAGE_QUARANTINE_PREFIX: where block_action = quarantine moves objects."
}

variable "block_action" {
  type        = string
  default     = "private"
  description = "TRIAGE_BLOCK_ACTION on a block verdict: none, tag, private, quarantine or delete."

  validation {
    condition     = contains(["none", "tag", "private", "quarantine", "delete"], var.block_action)
    error_message = "block_action must be one of none, tag, private, quarantine, delete."
  }
}

variable "architecture" {
  type        = string
  default     = "x86_64"
  description = "Which package.sh build to deploy: x86_64 or arm64 (picks image-triage-<architecture>.zip)."

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "code_zip" {
  type        = string
  default     = ""
  description = "ZIP with bootstrap and image-triage at its root; empty: ../../target/functiongraph/image-triage-<architecture>.zip (package.sh's output)."
}

variable "function_name" {
  type        = string
  default     = "image-triage"
  description = "Function name; also prefixes the agency, the custom policies and the trigger's event notification."
}

variable "memory_size" {
  type        = number
  default     = 256
  description = "Function memory in MB (the cloud analyzers only: the function holds at most the 64 KiB preflight header and the dedupe hash stream)."
}

variable "timeout" {
  type        = number
  default     = 60
  description = "Function timeout in seconds (3 to 259200)."
}

variable "max_retry_attempts" {
  type        = number
  default     = 3
  description = "Async retries of an invocation that returned an error (a retryable failure): 0 to 3."

  validation {
    condition     = var.max_retry_attempts >= 0 && var.max_retry_attempts <= 3
    error_message = "max_retry_attempts must be between 0 and 3."
  }
}

variable "max_event_age_seconds" {
  type        = number
  default     = 3600
  description = "How long an upload event may wait for its (retried) invocation: 1 to 86400 seconds."

  validation {
    condition     = var.max_event_age_seconds >= 1 && var.max_event_age_seconds <= 86400
    error_message = "max_event_age_seconds must be between 1 and 86400."
  }
}

variable "failure_prefix" {
  type        = string
  default     = "triage-failures/"
  description = "Async failure destination: FunctionGraph writes the record of an event whose retries ran out under this prefix of the bucket; empty: no failure destination."
}

variable "marker_secret" {
  type        = string
  default     = ""
  sensitive   = true
  description = "TRIAGE_MARKER_SECRET (at least 16 bytes), passed as encrypted user data; empty: not set."
}

provider "huaweicloud" {
  region = var.region
}

locals {
  code_zip = var.code_zip != "" ? var.code_zip : "${path.module}/../../target/functiongraph/image-triage-${var.architecture}.zip"

  # Every OBS request the function makes (src/store/obs), as OBS IAM actions; the mapping table is
  # in docs/huawei.md ("Permissions").
  obs_writeback_actions = [
    "obs:object:GetObject",
    "obs:object:PutObject",
    "obs:object:DeleteObject",
    "obs:object:ModifyObjectMetaData",
    "obs:object:GetObjectTagging",
    "obs:object:GetObjectVersionTagging",
    "obs:object:PutObjectTagging",
    "obs:object:PutObjectVersionTagging",
    "obs:object:GetObjectAcl",
    "obs:object:PutObjectAcl",
  ]

  # `image-triage scan` also lists the bucket; it runs with a user's own AK/SK, not the agency.
  obs_scan_bucket_actions = [
    "obs:bucket:ListBucket",
  ]

  obs_object_resource = "obs:*:*:object:${var.bucket_name}/*"
  obs_bucket_resource = "obs:*:*:bucket:${var.bucket_name}"

  obs_writeback_policy = {
    Version = "1.1"
    Statement = [
      {
        Effect   = "Allow"
        Action   = local.obs_writeback_actions
        Resource = [local.obs_object_resource]
      },
    ]
  }

  obs_scan_policy = {
    Version = "1.1"
    Statement = [
      {
        Effect   = "Allow"
        Action   = local.obs_writeback_actions
        Resource = [local.obs_object_resource]
      },
      {
        Effect   = "Allow"
        Action   = local.obs_scan_bucket_actions
        Resource = [local.obs_bucket_resource]
      },
    ]
  }

  # Image Recognition (Image Tagging) and Content Moderation publish no fine-grained IAM actions;
  # both services' guides authorise callers with the "Tenant Guest" role on the region's project.
  ai_project_roles = ["Tenant Guest"]

  # Uploads only (no s3:ObjectCreated:Copy): a copy is what the metadata fallback or a quarantine
  # move writes, so it never needs triage. The prefix keeps the function's own outputs out.
  obs_trigger_events = [
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:CompleteMultipartUpload",
  ]

  obs_trigger_event_data = {
    bucket = var.bucket_name
    events = local.obs_trigger_events
    name   = "${var.function_name}-uploads"
    prefix = var.upload_prefix
  }

  failure_destination_param = {
    bucket  = var.bucket_name
    prefix  = var.failure_prefix
    expires = 30
  }

  # The function's settings (README "Configuration", docs/huawei.md "Settings").
  environment = {
    TRIAGE_HUAWEI_REGION         = var.region
    HUAWEICLOUD_SDK_PROJECT_ID   = data.huaweicloud_identity_projects.region.projects[0].id
    TRIAGE_BUCKETS               = var.bucket_name
    TRIAGE_LABELER               = "huawei"
    TRIAGE_MODERATOR             = "huawei"
    TRIAGE_LABEL_LANGUAGE        = "en"
    TRIAGE_MODERATION_EVENT_TYPE = "album"
    TRIAGE_RESULTS_PREFIX        = var.results_prefix
    TRIAGE_QUARANTINE_PREFIX     = var.quarantine_prefix
    TRIAGE_BLOCK_ACTION          = var.block_action
    TRIAGE_LOG                   = "info"
    TRIAGE_LOG_FORMAT            = "json"
  }
}

data "huaweicloud_identity_projects" "region" {
  name = var.region
}

# OBS is a global service: its custom policy is of type AX and is granted on the domain.
resource "huaweicloud_identity_role" "obs_writeback" {
  name        = "${var.function_name}-obs-writeback"
  description = "image-triage function on bucket ${var.bucket_name}: read, sidecar, metadata, tags, ACL, quarantine move, delete"
  type        = "AX"
  policy      = jsonencode(local.obs_writeback_policy)
}

# For the user or group that runs `image-triage scan` (attach it yourself, see docs/huawei.md).
resource "huaweicloud_identity_role" "obs_scan" {
  name        = "${var.function_name}-obs-scan"
  description = "image-triage scan on bucket ${var.bucket_name}: the function's OBS actions plus listing the bucket"
  type        = "AX"
  policy      = jsonencode(local.obs_scan_policy)
}

# FunctionGraph (service op_svc_cff) assumes this agency and passes the function temporary
# credentials (X-CFF-Access-Key / -Secret-Key / -Security-Token) on every invocation.
resource "huaweicloud_identity_agency" "triage" {
  name                   = "${var.function_name}-agency"
  description            = "image-triage function: OBS write-back on one bucket, Image Tagging and Content Moderation"
  delegated_service_name = "op_svc_cff"
  duration               = "FOREVER"

  # Referenced by name, so the policy exists before the agency asks for it.
  domain_roles = [huaweicloud_identity_role.obs_writeback.name]

  project_role {
    project = var.region
    roles   = local.ai_project_roles
  }
}

resource "huaweicloud_fgs_function" "triage" {
  name          = var.function_name
  app           = "default"
  agency        = huaweicloud_identity_agency.triage.name
  description   = "Tag and moderate every image uploaded to ${var.bucket_name}/${var.upload_prefix}"
  runtime       = "Custom"
  handler       = "bootstrap"
  code_type     = "zip"
  code_filename = "image-triage.zip"
  func_code     = filebase64(local.code_zip)
  memory_size   = var.memory_size
  timeout       = var.timeout

  enable_lts_log      = true
  user_data           = jsonencode(local.environment)
  encrypted_user_data = var.marker_secret != "" ? jsonencode({ TRIAGE_MARKER_SECRET = var.marker_secret }) : null
}

resource "huaweicloud_fgs_async_invoke_configuration" "triage" {
  function_urn                   = huaweicloud_fgs_function.triage.urn
  max_async_retry_attempts       = var.max_retry_attempts
  max_async_event_age_in_seconds = var.max_event_age_seconds
  enable_async_status_log        = true

  dynamic "on_failure" {
    for_each = var.failure_prefix != "" ? [local.failure_destination_param] : []
    content {
      destination = "OBS"
      param       = jsonencode(on_failure.value)
    }
  }
}

resource "huaweicloud_fgs_function_trigger" "obs_upload" {
  function_urn = huaweicloud_fgs_function.triage.urn
  type         = "OBS"
  status       = "ACTIVE"
  event_data   = jsonencode(local.obs_trigger_event_data)

  lifecycle {
    precondition {
      condition = alltrue([
        for p in [var.results_prefix, var.quarantine_prefix, var.failure_prefix] :
        p == "" || substr(p, 0, length(var.upload_prefix)) != var.upload_prefix
      ])
      error_message = "results_prefix, quarantine_prefix and failure_prefix must lie outside upload_prefix, or the function would trigger itself."
    }
  }
}

output "function_urn" {
  value = huaweicloud_fgs_function.triage.urn
}

output "agency_name" {
  value = huaweicloud_identity_agency.triage.name
}

output "scan_policy_name" {
  description = "Custom policy (Global services) for the IAM user group that runs image-triage scan; add Tenant Guest on the region's project too."
  value       = huaweicloud_identity_role.obs_scan.name
}

output "project_id" {
  value = data.huaweicloud_identity_projects.region.projects[0].id
}

output "log_group_id" {
  value = huaweicloud_fgs_function.triage.log_group_id
}

output "log_stream_id" {
  value = huaweicloud_fgs_function.triage.log_stream_id
}
