/// The element type of a tensor: the Open Inference Protocol's datatypes that ModelHost supports.
///
/// The raw value is the protocol's spelling (`"FP32"`); ``abiCode`` is the value of the same type
/// in the plugin ABI (`mh_datatype`).
public enum Datatype: String, Sendable, Hashable, CaseIterable, Codable {
    case bool = "BOOL"
    case uint8 = "UINT8"
    case uint16 = "UINT16"
    case uint32 = "UINT32"
    case uint64 = "UINT64"
    case int8 = "INT8"
    case int16 = "INT16"
    case int32 = "INT32"
    case int64 = "INT64"
    case fp32 = "FP32"
    case fp64 = "FP64"
    case bytes = "BYTES"

    /// The size of one element in bytes, or `nil` for ``bytes``, whose elements vary in length.
    public var elementSize: Int? {
        switch self {
        case .bool, .uint8, .int8: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .fp32: 4
        case .uint64, .int64, .fp64: 8
        case .bytes: nil
        }
    }

    /// The value of this datatype in the plugin ABI (`mh_datatype`).
    public var abiCode: Int32 {
        switch self {
        case .bool: 1
        case .uint8: 2
        case .uint16: 3
        case .uint32: 4
        case .uint64: 5
        case .int8: 6
        case .int16: 7
        case .int32: 8
        case .int64: 9
        case .fp32: 11
        case .fp64: 12
        case .bytes: 13
        }
    }

    /// The datatype with the given ABI code, or `nil` for a code ModelHost does not know.
    public init?(abiCode: Int32) {
        guard let match = Datatype.allCases.first(where: { $0.abiCode == abiCode }) else { return nil }
        self = match
    }

    /// Whether elements are numbers (integers or floating point).
    public var isNumeric: Bool { self != .bool && self != .bytes }

    /// Whether elements are floating-point numbers.
    public var isFloatingPoint: Bool { self == .fp32 || self == .fp64 }
}
