//! Local OCR (PP-OCRv6 small): being written.
