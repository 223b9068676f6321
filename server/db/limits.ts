// How much one database command carries (issue 19): every large write sends at most DOCS_PER_COMMAND
// documents a command, and every large read asks for replies of at most that many (batchSize), so that
// neither side — the database, or the driver decoding a reply on the app's event loop — is held long by
// one message. (MongoDB's own default reply is up to 16 MB: ≈ 50 000 units at once.)
export const DOCS_PER_COMMAND = 1000;
