//! Image sample lists (`TRIAGE_IMAGE_LISTS`): being written.
