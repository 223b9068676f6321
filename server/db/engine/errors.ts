// MongoDB-shaped command errors. A handler throws CommandError; the dispatcher answers
// {ok: 0, errmsg, code, codeName, ...extra} exactly as mongod does.
export class CommandError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const Codes = {
  InternalError: [1, 'InternalError'],
  BadValue: [2, 'BadValue'],
  FailedToParse: [9, 'FailedToParse'],
  TypeMismatch: [14, 'TypeMismatch'],
  IllegalOperation: [20, 'IllegalOperation'],
  NamespaceNotFound: [26, 'NamespaceNotFound'],
  IndexNotFound: [27, 'IndexNotFound'],
  PathNotViable: [28, 'PathNotViable'],
  ConflictingUpdateOperators: [40, 'ConflictingUpdateOperators'],
  CursorNotFound: [43, 'CursorNotFound'],
  NamespaceExists: [48, 'NamespaceExists'],
  CommandNotFound: [59, 'CommandNotFound'],
  ImmutableField: [66, 'ImmutableField'],
  InvalidOptions: [72, 'InvalidOptions'],
  InvalidNamespace: [73, 'InvalidNamespace'],
  IndexOptionsConflict: [85, 'IndexOptionsConflict'],
  IndexKeySpecsConflict: [86, 'IndexKeySpecsConflict'],
  OperationNotSupportedInTransaction: [263, 'OperationNotSupportedInTransaction'],
  Location40323: [40323, 'Location40323'],
  Location16020: [16020, 'Location16020'],
  Location15975: [15975, 'Location15975'],
  Location15998: [15998, 'Location15998'],
  Location15955: [15955, 'Location15955'],
  Location40234: [40234, 'Location40234'],
  Location40235: [40235, 'Location40235'],
  Location16554: [16554, 'Location16554'],
  Location16555: [16555, 'Location16555'],
  Location16556: [16556, 'Location16556'],
  Location16612: [16612, 'Location16612'],
  Location40324: [40324, 'Location40324'],
  DuplicateKey: [11000, 'DuplicateKey'],
  InvalidLength: [16, 'InvalidLength'],
  NoSuchKey: [4, 'NoSuchKey'],
  Unauthorized: [13, 'Unauthorized'],
  InvalidIdField: [53, 'InvalidIdField'],
  DollarPrefixedFieldName: [52, 'DollarPrefixedFieldName'],
  BSONObjectTooLarge: [10334, 'BSONObjectTooLarge'],
  EmptyFieldName: [56, 'EmptyFieldName'],
  /** an unknown field in a command or statement (IDL parser) */
  Location40415: [40415, 'Location40415'],
  /** the document an update produces exceeds 16 MiB */
  Location17419: [17419, 'Location17419'],
  /** positional projection without a matching array element */
  Location51246: [51246, 'Location51246'],
  ConversionFailure: [241, 'ConversionFailure'],
  /** regex: invalid option letter / invalid pattern / options in both places / $regexMatch options */
  Location51108: [51108, 'Location51108'],
  Location51091: [51091, 'Location51091'],
  Location51075: [51075, 'Location51075'],
  Location51106: [51106, 'Location51106'],
  Location51107: [51107, 'Location51107'],
} as const;

/** A code MongoDB gives only a number ("Location<code>"), for errors of one check. */
type LocationCode = `Location${number}`;

export function err(kind: keyof typeof Codes | LocationCode, message: string, extra?: Record<string, unknown>): CommandError {
  const known = (Codes as Record<string, readonly [number, string]>)[kind];
  const [code, name] = known ?? [Number(kind.slice('Location'.length)), kind];
  return new CommandError(code, name, message, extra);
}
