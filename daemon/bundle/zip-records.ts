// The fixed lengths of a zip's records (APPNOTE 4.3), without their names, extra fields and comments: what the
// reader (central-directory.ts) checks offsets against, and what the writer's length is reckoned from
// (zip-folder.ts zipLength).
export const LOCAL_HEADER_BYTES = 30;
export const CENTRAL_HEADER_BYTES = 46;
/** With its signature, as archiver writes it; 32-bit sizes. */
export const DATA_DESCRIPTOR_BYTES = 16;
export const END_RECORD_BYTES = 22;
