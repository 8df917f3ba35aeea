/// What a request declares about a tensor before its data is read: its name, datatype and shape.
///
/// A manifest's rules for names, datatypes, shapes and batch sizes need only the header, so a
/// request can be refused on them before its data costs anything to decode.
public struct TensorHeader: Sendable, Hashable {
    /// The tensor's name.
    public var name: String
    /// The type of each element.
    public var datatype: Datatype
    /// The dimensions, as the request gives them.
    public var shape: [Int]

    /// Creates a header.
    public init(name: String, datatype: Datatype, shape: [Int]) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
    }

    /// The number of elements the shape calls for: the product of its dimensions.
    ///
    /// - Throws: ``TensorLayoutError`` for a negative dimension, or a product too large for `Int`.
    public func elementCount() throws(TensorLayoutError) -> Int {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else {
                throw TensorLayoutError(tensor: name, message: "shape \(shape) has a negative dimension")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw TensorLayoutError(tensor: name, message: "shape \(shape) has too many elements")
            }
            count = product
        }
        return count
    }

    /// Checks that raw data of `byteCount` bytes has the size the header calls for.
    ///
    /// For a fixed-size datatype the size is exact. A ``Datatype/bytes`` tensor's elements vary in
    /// length, so any size passes here; its layout is checked when the ``Tensor`` is made.
    ///
    /// - Throws: ``TensorLayoutError`` naming the size needed and the size given.
    public func checkByteCount(_ byteCount: Int) throws(TensorLayoutError) {
        let count = try elementCount()
        guard let size = datatype.elementSize else { return }
        let (expected, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow, expected == byteCount else {
            throw TensorLayoutError(
                tensor: name,
                message: "shape \(shape) of \(datatype.rawValue) needs \(overflow ? "too many" : String(expected)) bytes, got \(byteCount)"
            )
        }
    }
}

extension Tensor {
    /// The tensor's name, datatype and shape.
    public var header: TensorHeader {
        TensorHeader(name: name, datatype: datatype, shape: shape)
    }
}
