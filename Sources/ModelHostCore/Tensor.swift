/// A named, typed, shaped block of data: what flows into and out of a model.
///
/// ``data`` uses the plugin ABI's layout: row-major, little-endian, no padding; a ``Datatype/bytes``
/// tensor holds each element as a 4-byte little-endian length followed by its bytes. The
/// initialiser checks that the data matches the shape and datatype, so a `Tensor` is always
/// well-formed.
public struct Tensor: Sendable, Hashable {
    /// The tensor's name, as the model's manifest declares it.
    public let name: String
    /// The type of each element.
    public let datatype: Datatype
    /// The dimensions, each at least 0.
    public let shape: [Int]
    /// The raw elements in the ABI layout.
    public let data: [UInt8]

    /// Creates a tensor, checking that `data` holds exactly the elements `shape` and `datatype` call for.
    ///
    /// - Throws: ``TensorLayoutError`` naming the tensor and what does not match.
    public init(name: String, datatype: Datatype, shape: [Int], data: [UInt8]) throws(TensorLayoutError) {
        let header = TensorHeader(name: name, datatype: datatype, shape: shape)
        try header.checkByteCount(data.count)
        if datatype == .bool, let bad = data.first(where: { $0 > 1 }) {
            throw TensorLayoutError(tensor: name, message: "BOOL element \(bad) is neither 0 nor 1")
        }
        if datatype == .bytes {
            try Self.checkBytesLayout(data, count: header.elementCount(), name: name)
        }
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.data = data
    }

    /// Creates a tensor from data made of well-formed tensors' data cut or joined on row
    /// boundaries, which therefore fits, without checking it again (``TensorBatch`` joins and
    /// splits batches with it). Debug builds check anyway.
    init(name: String, datatype: Datatype, shape: [Int], joinedData data: [UInt8]) {
        assert((try? Tensor(name: name, datatype: datatype, shape: shape, data: data)) != nil, "joined data does not fit \(shape) of \(datatype)")
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.data = data
    }

    /// The number of elements: the product of the shape's dimensions.
    public var elementCount: Int { shape.reduce(1, *) }

    private static func checkBytesLayout(_ data: [UInt8], count: Int, name: String) throws(TensorLayoutError) {
        var offset = 0
        for index in 0..<count {
            guard data.count - offset >= 4 else {
                throw TensorLayoutError(tensor: name, message: "BYTES element \(index) has no length prefix")
            }
            let length = Int(readLength(data, at: offset))
            offset += 4
            guard data.count - offset >= length else {
                throw TensorLayoutError(tensor: name, message: "BYTES element \(index) runs past the end of the data")
            }
            offset += length
        }
        guard offset == data.count else {
            throw TensorLayoutError(tensor: name, message: "\(data.count - offset) bytes follow the last of \(count) BYTES elements")
        }
    }
}

/// A tensor whose data does not match its shape and datatype.
public struct TensorLayoutError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The name of the tensor.
    public var tensor: String
    /// What does not match.
    public var message: String

    /// Creates an error for the named tensor.
    public init(tensor: String, message: String) {
        self.tensor = tensor
        self.message = message
    }

    public var description: String { "tensor \"\(tensor)\": \(message)" }
}

@inline(__always)
private func readLength(_ data: [UInt8], at offset: Int) -> UInt32 {
    UInt32(data[offset]) | UInt32(data[offset + 1]) << 8 | UInt32(data[offset + 2]) << 16 | UInt32(data[offset + 3]) << 24
}

extension Tensor {
    /// Creates a ``Datatype/bytes`` tensor from its elements.
    public init(name: String, shape: [Int], byteElements: [[UInt8]]) throws(TensorLayoutError) {
        var data: [UInt8] = []
        data.reserveCapacity(byteElements.reduce(0) { $0 + 4 + $1.count })
        for element in byteElements {
            guard element.count <= Int(UInt32.max) else {
                throw TensorLayoutError(tensor: name, message: "a BYTES element is longer than 2^32 - 1 bytes")
            }
            let length = UInt32(element.count)
            data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 24)])
            data.append(contentsOf: element)
        }
        try self.init(name: name, datatype: .bytes, shape: shape, data: data)
    }

    /// Creates a ``Datatype/bytes`` tensor of UTF-8 strings.
    public init(name: String, shape: [Int], strings: [String]) throws(TensorLayoutError) {
        try self.init(name: name, shape: shape, byteElements: strings.map { Array($0.utf8) })
    }

    /// The elements of a ``Datatype/bytes`` tensor; empty for other datatypes.
    public var byteElements: [ArraySlice<UInt8>] {
        guard datatype == .bytes else { return [] }
        var elements: [ArraySlice<UInt8>] = []
        elements.reserveCapacity(elementCount)
        var offset = 0
        while offset < data.count {
            let length = Int(readLength(data, at: offset))
            elements.append(data[(offset + 4)..<(offset + 4 + length)])
            offset += 4 + length
        }
        return elements
    }
}
