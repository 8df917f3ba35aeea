import PluginKit

/// A batch of transactions decoded and checked from a request's input tensors.
///
/// The inputs are `amount` (FP64), `timestamp` and `merchant_category` (BYTES, UTF-8), each of
/// shape `[N]` with the same N; other inputs are ignored. Every problem is a
/// ``PluginError/Kind/invalidInput`` error naming the input and, for a bad element, its index.
struct TransactionBatch: Sendable {
    /// The input tensors' names.
    enum InputName {
        /// The amount of each transaction, FP64.
        static let amount = "amount"
        /// The ISO-8601 timestamp of each transaction, BYTES.
        static let timestamp = "timestamp"
        /// The merchant category of each transaction, BYTES.
        static let merchantCategory = "merchant_category"
    }

    /// The amounts, each positive and finite.
    let amounts: [Double]
    /// The timestamps.
    let timestamps: [TransactionTimestamp]
    /// The merchant categories, as sent.
    let merchantCategories: [String]

    /// The number of transactions.
    var count: Int { amounts.count }

    /// Decodes and checks a batch.
    ///
    /// - Parameter inputs: The request's tensors.
    /// - Throws: A ``PluginError/Kind/invalidInput`` error for a missing or repeated input, a wrong
    ///   datatype or rank, differing element counts, a non-positive, NaN or infinite amount, a
    ///   malformed timestamp or a string that is not UTF-8.
    init(decoding inputs: [Tensor]) throws(PluginError) {
        let amount = try Self.input(InputName.amount, .fp64, in: inputs)
        let timestamp = try Self.input(InputName.timestamp, .bytes, in: inputs)
        let merchantCategory = try Self.input(InputName.merchantCategory, .bytes, in: inputs)
        let counts = [amount, timestamp, merchantCategory].map(\.elementCount)
        guard counts.allSatisfy({ $0 == counts[0] }) else {
            throw PluginError(
                .invalidInput,
                "inputs \"\(InputName.amount)\" (\(counts[0]) element\(counts[0] == 1 ? "" : "s")), \"\(InputName.timestamp)\" (\(counts[1])) "
                    + "and \"\(InputName.merchantCategory)\" (\(counts[2])) must have the same number of elements"
            )
        }

        amounts = try Self.amounts(amount)
        timestamps = try Self.timestamps(timestamp)
        merchantCategories = try Self.strings(merchantCategory)
    }

    /// The single input with the given name, checked for datatype and rank 1.
    private static func input(_ name: String, _ datatype: Datatype, in inputs: [Tensor]) throws(PluginError) -> Tensor {
        let matches = inputs.filter { $0.name == name }
        guard let tensor = matches.first else {
            throw PluginError(.invalidInput, "input \"\(name)\" is missing")
        }
        guard matches.count == 1 else {
            throw PluginError(.invalidInput, "input \"\(name)\" is given \(matches.count) times")
        }
        guard tensor.datatype == datatype else {
            throw PluginError(.invalidInput, "input \"\(name)\" must be \(datatype.rawValue), got \(tensor.datatype.rawValue)")
        }
        guard tensor.shape.count == 1 else {
            throw PluginError(.invalidInput, "input \"\(name)\" must have shape [N], got \(tensor.shape)")
        }
        return tensor
    }

    /// The elements of an FP64 tensor, each checked to be positive and finite.
    private static func amounts(_ tensor: Tensor) throws(PluginError) -> [Double] {
        var amounts: [Double] = []
        amounts.reserveCapacity(tensor.elementCount)
        for index in 0..<tensor.elementCount {
            var bits: UInt64 = 0
            for byte in 0..<8 {
                bits |= UInt64(tensor.data[index * 8 + byte]) << (8 * byte)
            }
            let amount = Double(bitPattern: bits)
            guard amount.isFinite, amount > 0 else {
                throw PluginError(
                    .invalidInput,
                    "input \"\(tensor.name)\" element \(index): \(amount) is not a positive, finite amount"
                )
            }
            amounts.append(amount)
        }
        return amounts
    }

    /// The elements of a BYTES tensor, each parsed as a timestamp.
    private static func timestamps(_ tensor: Tensor) throws(PluginError) -> [TransactionTimestamp] {
        var timestamps: [TransactionTimestamp] = []
        timestamps.reserveCapacity(tensor.elementCount)
        for (index, text) in try strings(tensor).enumerated() {
            do {
                timestamps.append(try TransactionTimestamp(parsing: text))
            } catch {
                throw PluginError(
                    .invalidInput,
                    "input \"\(tensor.name)\" element \(index): \(quoted(text)) is not an ISO-8601 timestamp "
                        + "like 2026-03-14T02:13:00Z: \(error.reason)"
                )
            }
        }
        return timestamps
    }

    /// The elements of a BYTES tensor, each checked to be UTF-8.
    private static func strings(_ tensor: Tensor) throws(PluginError) -> [String] {
        try tensor.byteElements.enumerated().map { index, bytes throws(PluginError) in
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw PluginError(.invalidInput, "input \"\(tensor.name)\" element \(index) is not valid UTF-8")
            }
            return text
        }
    }

    /// A caller's text for an error message: quoted, escaped and cut short.
    private static func quoted(_ text: String) -> String {
        let limit = 40
        return text.count <= limit ? text.debugDescription : String(text.prefix(limit)).debugDescription + "…"
    }
}
