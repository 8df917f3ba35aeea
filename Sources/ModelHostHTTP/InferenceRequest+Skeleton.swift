import ModelHostCore
import NIOCore

extension InferenceRequest {
    /// A member's value as the skeleton scan keeps it: absent, a scalar read whole, or an array
    /// or object that was skipped, known only by its type.
    enum Field: Sendable {
        case absent
        case scalar(JSONValue)
        case skipped(JSONScanner.ValueKind)

        /// The value's type, as messages name it ("a string", "an array").
        var kindDescription: String {
            switch self {
            case .absent: "absent"
            case .scalar(let value): value.kindDescription
            case .skipped(let kind): kind.description
            }
        }
    }

    /// An input's members as scanned, before any is checked.
    struct ScannedInput: Sendable {
        enum Shape: Sendable {
            /// Absent, or not an array.
            case missing
            /// An array holding something other than integers from 0 to `Int32.max`.
            case invalid
            case dimensions([Int])
        }

        var name = Field.absent
        var datatype = Field.absent
        var shape = Shape.missing
        /// `parameters.binary_data_size`, when `parameters` is an object.
        var binaryDataSize = Field.absent
        /// The `data` member's measure; its range is in the JSON part of the body.
        var data: JSONScanner.SkippedValue?
    }

    /// An element of `inputs` as scanned.
    enum ScannedInputElement: Sendable {
        case object(ScannedInput)
        /// Not an object: only its type is kept.
        case other(JSONScanner.ValueKind)
    }

    /// An element of `outputs` as scanned.
    enum ScannedOutput: Sendable {
        /// Not an object, or one without a string `name`.
        case invalid
        /// `binaryData` is `parameters.binary_data` when `parameters` is an object.
        case named(String, binaryData: Field)
    }

    /// Everything in the JSON part but the inputs' data, which is only measured.
    struct Skeleton: Sendable {
        enum Members<Element: Sendable>: Sendable {
            case absent
            /// Present but not an array.
            case other(Field)
            case array([Element])
        }

        var isObject = true
        var id = Field.absent
        var inputs = Members<ScannedInputElement>.absent
        /// `parameters.binary_data_output` and `parameters.timeout`, when `parameters` is an object.
        var binaryDataOutput = Field.absent
        var timeout = Field.absent
        var outputs = Members<ScannedOutput>.absent
    }

    /// Scans the JSON part of a body: every byte is checked, the tensors' data only measured.
    ///
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/invalidRequest`` when the text is
    ///   not valid JSON.
    static func scanSkeleton(_ json: ByteBuffer) throws(ModelHostError) -> Skeleton {
        do throws(JSONParseError) {
            return try JSONScanner.withScanner(over: json.readableBytesView) { scanner throws(JSONParseError) in
                var skeleton = Skeleton()
                guard try scanner.peekKind() == .object else {
                    try scanner.finish()
                    skeleton.isObject = false
                    return skeleton
                }
                try scanner.beginObject()
                while let key = try scanner.nextKey() {
                    switch key {
                    case "id": skeleton.id = try scanner.field()
                    case "inputs": try scanInputs(&scanner, into: &skeleton)
                    case "parameters":
                        guard try scanner.peekKind() == .object else { continue }
                        try scanner.beginObject()
                        while let parameter = try scanner.nextKey() {
                            if parameter == "binary_data_output" { skeleton.binaryDataOutput = try scanner.field() }
                            if parameter == "timeout" { skeleton.timeout = try scanner.field() }
                        }
                    case "outputs": skeleton.outputs = try scanOutputs(&scanner)
                    default: continue
                    }
                }
                try scanner.finish()
                return skeleton
            }
        } catch {
            throw ModelHostError(.invalidRequest, "request body is not valid JSON: \(error)")
        }
    }

    private static func scanInputs(_ scanner: inout JSONScanner, into skeleton: inout Skeleton) throws(JSONParseError) {
        guard try scanner.peekKind() == .array else {
            skeleton.inputs = .other(try scanner.field())
            return
        }
        var inputs: [ScannedInputElement] = []
        try scanner.beginArray()
        while try scanner.nextElement() {
            let kind = try scanner.peekKind()
            guard kind == .object else {
                inputs.append(.other(kind))
                continue
            }
            var input = ScannedInput()
            try scanner.beginObject()
            while let key = try scanner.nextKey() {
                switch key {
                case "name": input.name = try scanner.field()
                case "datatype": input.datatype = try scanner.field()
                case "shape": input.shape = try scanShape(&scanner)
                case "parameters":
                    guard try scanner.peekKind() == .object else { continue }
                    try scanner.beginObject()
                    while let parameter = try scanner.nextKey() {
                        if parameter == "binary_data_size" { input.binaryDataSize = try scanner.field() }
                    }
                case "data": input.data = try scanner.skipValue()
                default: continue
                }
            }
            inputs.append(.object(input))
        }
        skeleton.inputs = .array(inputs)
    }

    private static func scanShape(_ scanner: inout JSONScanner) throws(JSONParseError) -> ScannedInput.Shape {
        guard try scanner.peekKind() == .array else { return .missing }
        var dimensions: [Int] = []
        var isValid = true
        try scanner.beginArray()
        while try scanner.nextElement() {
            // After a bad dimension, the rest is skipped.
            guard isValid, try scanner.peekKind() == .number, case .integer(let size) = try scanner.readNumber(), size >= 0, size <= Int64(Int32.max) else {
                isValid = false
                continue
            }
            dimensions.append(Int(size))
        }
        return isValid ? .dimensions(dimensions) : .invalid
    }

    private static func scanOutputs(_ scanner: inout JSONScanner) throws(JSONParseError) -> Skeleton.Members<ScannedOutput> {
        guard try scanner.peekKind() == .array else {
            let field = try scanner.field()
            if case .scalar(.null) = field { return .absent }
            return .other(field)
        }
        var outputs: [ScannedOutput] = []
        try scanner.beginArray()
        while try scanner.nextElement() {
            guard try scanner.peekKind() == .object else {
                outputs.append(.invalid)
                continue
            }
            var name: String?
            var binaryData = Field.absent
            try scanner.beginObject()
            while let key = try scanner.nextKey() {
                switch key {
                case "name":
                    if case .scalar(.string(let text)) = try scanner.field() { name = text }
                case "parameters":
                    guard try scanner.peekKind() == .object else { continue }
                    try scanner.beginObject()
                    while let parameter = try scanner.nextKey() {
                        if parameter == "binary_data" { binaryData = try scanner.field() }
                    }
                default: continue
                }
            }
            outputs.append(name.map { .named($0, binaryData: binaryData) } ?? .invalid)
        }
        return .array(outputs)
    }
}

extension JSONScanner {
    /// Reads the next value whole when it is a scalar, or skips it when it is an array or object.
    fileprivate mutating func field() throws(JSONParseError) -> InferenceRequest.Field {
        let kind = try peekKind()
        switch kind {
        case .array, .object:
            _ = try skipValue()
            return .skipped(kind)
        case .string: return .scalar(.string(try readString()))
        case .number: return .scalar(try readNumber())
        case .bool: return .scalar(.bool(try readBool()))
        case .null:
            try readNull()
            return .scalar(.null)
        }
    }
}
