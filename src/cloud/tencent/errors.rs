//! Which Tencent error codes a retry can fix. Sources: seed 001 (IMS FAQ: `RequestLimitExceeded`,
//! `ImageDownloadError`, `InvalidImageContent`, `ImageSizeTooSmall`, `InvalidContent1`,
//! `InvalidFileContentSize`, `UnauthorizedOperation`), seed 002 (legacy tagging API numeric
//! codes), tencent.md §4.4 (API 3.0 common codes), §5 (IMS `errorcodes.py`), §6.3 (CI `X-ErrNo`),
//! §7 (TIIA) and §9 (TDMQ). Throttling, server-side trouble, timeouts and download failures
//! (the service fetches our presigned URL; its 3 s download can time out) are retryable;
//! credentials, permissions, billing state and bad input are not. The vendor's code is always
//! kept verbatim next to this decision.

/// API 3.0 (`Response.Error.Code`) and CI string codes.
pub fn retryable(code: &str) -> bool {
    let c = code.trim();
    // Prefix families first: every sub-code of these is transient.
    if c.starts_with("RequestLimitExceeded") || c.starts_with("InternalError") {
        return true;
    }
    matches!(
        c,
        "ServiceUnavailable"
            | "ResourceInsufficient"
            | "ResourceUnavailable.ImageDownloadError"
            | "ResourceUnavailable.InQueueError"
            | "ResourceUnavailable.ModelCallFailed"
            | "FailedOperation.RequestTimeout"
            | "FailedOperation.DownLoadError"
            | "FailedOperation.ImageDownloadError"
            | "FailedOperation.ServerError"
            | "FailedOperation.CmqBackendError"
            | "ImageDownloadError"
            | "ImageFileDownloadError"
            | "RequestTimeout"
            | "SlowDown"
            | "Timeout"
            | "Network"
    ) || numeric(c).is_some_and(retryable_number)
}

fn numeric(code: &str) -> Option<i64> {
    code.parse().ok()
}

/// Legacy tagging API codes (seed 002) and CI `X-ErrNo` values (tencent.md §6.3).
pub fn retryable_number(n: i64) -> bool {
    matches!(
        n,
        // 15 throttled; 16/17 internal/unknown; 200–203 internal pack/unpack/link/timeout.
        15 | 16 | 17 | 200
            ..=203
        // -1308/-1403 download failed; -1506 download timed out; -1507 image server unreachable.
        | -1308 | -1403 | -1506 | -1507
        // CI rate limiting.
        | -164 | -29214
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_has_a_decision() {
        let transient = [
            "RequestLimitExceeded",
            "RequestLimitExceeded.UinLimitExceeded",
            "RequestLimitExceeded.IPLimitExceeded",
            "RequestLimitExceeded.GlobalRegionUinLimitExceeded",
            "InternalError",
            "InternalError.InternalError",
            "ServiceUnavailable",
            "ResourceInsufficient",
            "ResourceUnavailable.ImageDownloadError",
            "ResourceUnavailable.InQueueError",
            "ResourceUnavailable.ModelCallFailed",
            "FailedOperation.RequestTimeout",
            "FailedOperation.DownLoadError",
            "FailedOperation.ImageDownloadError",
            "FailedOperation.ServerError",
            "FailedOperation.CmqBackendError",
            "ImageDownloadError",
            "ImageFileDownloadError",
            "15",
            "16",
            "17",
            "200",
            "201",
            "202",
            "203",
            "-1308",
            "-1403",
            "-1506",
            "-1507",
            "-164",
            "-29214",
        ];
        let permanent = [
            "AuthFailure.InvalidAuthorization",
            "AuthFailure.InvalidSecretId",
            "AuthFailure.MFAFailure",
            "AuthFailure.SecretIdNotFound",
            "AuthFailure.SignatureExpire",
            "AuthFailure.SignatureFailure",
            "AuthFailure.TokenFailure",
            "AuthFailure.UnauthorizedOperation",
            "DryRunOperation",
            "FailedOperation",
            "InvalidAction",
            "InvalidParameter",
            "InvalidParameter.ImageAspectRatioTooLarge",
            "InvalidParameter.ImageDataTooSmall",
            "InvalidParameter.ImageSizeTooSmall",
            "InvalidParameter.InvalidImageContent",
            "InvalidParameter.InvalidParameter",
            "InvalidParameterValue",
            "InvalidParameterValue.EmptyImageContent",
            "InvalidParameterValue.ImageSizeTooSmall",
            "InvalidParameterValue.InvalidCallbackUrl",
            "InvalidParameterValue.InvalidContent",
            "InvalidParameterValue.InvalidDataId",
            "InvalidParameterValue.InvalidFileContentSize",
            "InvalidParameterValue.InvalidImageContent",
            "InvalidParameterValue.InvalidParameter",
            "InvalidImageContent",
            "ImageSizeTooSmall",
            "InvalidContent1",
            "InvalidFileContentSize",
            "RequestSizeLimitExceeded",
            "IpInBlacklist",
            "IpNotInWhitelist",
            "LimitExceeded",
            "MissingParameter",
            "NoSuchProduct",
            "NoSuchVersion",
            "OperationDenied",
            "ResourceInUse",
            "ResourceNotFound",
            "ResourceUnavailable",
            "ResourceUnavailable.InvalidImageContent",
            "ResourceUnavailable.InArrears",
            "ResourceUnavailable.NotExist",
            "ResourceUnavailable.StopUsing",
            "ResourcesSoldOut",
            "ResourcesSoldOut.ChargeStatusException",
            "UnauthorizedOperation",
            "UnauthorizedOperation.Unauthorized",
            "UnknownParameter",
            "UnsupportedOperation",
            "UnsupportedProtocol",
            "UnsupportedRegion",
            "FailedOperation.ImageDecodeFailed",
            "FailedOperation.EmptyImageError",
            "FailedOperation.ImageSizeExceed",
            "FailedOperation.ImageResolutionInsufficient",
            "FailedOperation.UnOpenError",
            "FailedOperation.InvokeChargeError",
            "InvalidParameter.ImageFormatNotSupport",
            "InvalidParameterValue.ImageEmpty",
            "InvalidParameterValue.UrlIllegal",
            "LimitExceeded.TooLargeFileError",
            "AccessDenied",
            "SignatureDoesNotMatch",
            "3",
            "4",
            "5",
            "6",
            "7",
            "8",
            "9",
            "10",
            "11",
            "12",
            "13",
            "14",
            "-1300",
            "-1400",
            "-1404",
            "-1505",
            "-5062",
            "-46618",
            "-46628",
        ];
        for c in transient {
            assert!(retryable(c), "{c} should be retryable");
        }
        for c in permanent {
            assert!(!retryable(c), "{c} should be permanent");
        }
    }
}
