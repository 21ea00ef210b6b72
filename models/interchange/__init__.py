"""Annotation files in and out (COCO JSON, YOLO zips). Pure: bytes and rows in, rows and bytes
out; no database, web or GraphQL. Every refusal is INVALID_INPUT (or UNSUPPORTED_FILE_TYPE) on
`input.file`, its message starting with the place in the file."""
