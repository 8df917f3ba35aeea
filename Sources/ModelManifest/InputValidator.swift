import ModelHostCore

/// Checks request tensors against everything a manifest declares about its inputs, before a
/// plugin sees them.
///
/// Build one per model version when the version loads: the initialiser compiles each `pattern`
/// and turns each input's constraints into a plan, so ``validate(_:)`` does no parsing and, for
/// numeric inputs, no allocation per element. Both the Open Inference Protocol route and `POST /predict` call
/// the same validator.
///
/// ``checkDeclarations(_:)`` checks what a request declares — names, datatypes, shapes, required
/// inputs and the batch limit — before its data is decoded. ``validate(_:)`` makes those checks on
/// decoded tensors, then each input's ``InputConstraints`` element by element. A
/// refusal is a ``ModelHostError`` with code ``ModelHostError/Code/validation`` and a message
/// naming the input and the rule — `input "query" element 3: longer than 512 bytes` — that never
/// quotes the refused value, so it is safe to log; its ``ModelHostError/validationFailure`` gives
/// the declared input and the rule (``ModelHostError/ValidationFailure/Rule``) for counting.
public struct InputValidator: Sendable {
    /// The manifest the rules come from.
    public let manifest: Manifest
    /// One plan per declared input, in the manifest's order.
    private let plans: [InputPlan]
    /// Whether any input has a variable first dimension; when none has, the batch pass of
    /// ``checkDeclarations(_:)`` is skipped.
    let hasBatchedInput: Bool

    /// Compiles the rules of every declared input.
    ///
    /// - Parameter manifest: The model version's manifest.
    /// - Throws: ``ManifestError`` when a `pattern` does not compile, a rule does not apply to its
    ///   input's datatype, or no value of an integer input's datatype lies between its `minimum`
    ///   and `maximum`.
    public init(manifest: Manifest) throws(ManifestError) {
        self.manifest = manifest
        var plans: [InputPlan] = []
        plans.reserveCapacity(manifest.inputs.count)
        for (index, spec) in manifest.inputs.enumerated() {
            do {
                plans.append(try InputPlan(spec: spec))
            } catch {
                throw ManifestError(
                    file: "\(manifest.name) \(manifest.version)",
                    path: "inputs[\(index)].constraints\(error.key.map { ".\($0)" } ?? "")",
                    message: error.message
                )
            }
        }
        self.plans = plans
        self.hasBatchedInput = plans.contains(where: \.isBatched)
    }

    /// Checks request tensors against the declared inputs and their constraints.
    ///
    /// A `BYTES` input whose constraints say `"overLength": "truncate"` has each over-long element
    /// cut at the last UTF-8 character boundary within `maxLength`; the returned tensors carry the
    /// cut values and ``ValidatedInputs/truncations`` reports each cut with its original length.
    /// The UTF-8 and NUL rules apply to the element as sent; `minLength` and `pattern` to the
    /// element after any cut.
    ///
    /// - Parameter inputs: The request's tensors, in any order.
    /// - Returns: The tensors to give the plugin, in the order given, and the truncations made.
    /// - Throws: ``ModelHostError`` with code ``ModelHostError/Code/validation`` naming the input,
    ///   the element when the tensor has more than one, and the rule. The message never contains
    ///   the element's content. ``ModelHostError/modelVersion`` is left for the caller to fill.
    public func validate(_ inputs: [Tensor]) throws(ModelHostError) -> ValidatedInputs {
        try checkDeclarations(inputs.map(\.header))
        return try validateValues(inputs)
    }

    /// Checks each input's constraints element by element, as ``validate(_:)`` does, for tensors
    /// whose headers ``checkDeclarations(_:)`` has already accepted (a request decoded in two
    /// steps checks its declarations before decoding its data).
    ///
    /// - Parameter inputs: The request's tensors, their declarations already checked.
    /// - Returns: The tensors to give the plugin and the truncations made.
    /// - Throws: ``ModelHostError`` with code ``ModelHostError/Code/validation``, as ``validate(_:)``.
    public func validateValues(_ inputs: [Tensor]) throws(ModelHostError) -> ValidatedInputs {
        var validated = ValidatedInputs(tensors: inputs, truncations: [])
        for (position, tensor) in inputs.enumerated() {
            guard let plan = plan(named: tensor.name) else { continue }
            switch plan.rules {
            case .none:
                continue
            case .bytes(let rules):
                if let cut = try rules.check(tensor, truncations: &validated.truncations) {
                    validated.tensors[position] = cut
                }
            case .floatingPoint(let rules):
                try rules.check(tensor)
            case .signed(let rules):
                try rules.check(tensor)
            case .unsigned(let rules):
                try rules.check(tensor)
            }
        }
        return validated
    }

    private func plan(named name: String) -> InputPlan? {
        plans.first { $0.name == name }
    }
}

/// Request tensors that passed an ``InputValidator``, ready for the plugin.
public struct ValidatedInputs: Sendable {
    /// The tensors in the order the request gave them, with over-long `BYTES` elements cut where
    /// the manifest asks for truncation.
    public var tensors: [Tensor]
    /// Every element that was cut, in the order found; empty when none was.
    public var truncations: [Truncation]

    /// Creates a result.
    public init(tensors: [Tensor], truncations: [Truncation]) {
        self.tensors = tensors
        self.truncations = truncations
    }
}

/// One `BYTES` element cut to its input's `maxLength`, for the response to report.
public struct Truncation: Sendable, Hashable {
    /// The input's name.
    public var input: String
    /// The element's index in the tensor's row-major order.
    public var element: Int
    /// The element's length in bytes as sent.
    public var originalLength: Int
    /// The element's length in bytes after the cut: at most `maxLength`, and less when the limit
    /// fell inside a multi-byte character.
    public var truncatedLength: Int

    /// Creates a record of a cut.
    public init(input: String, element: Int, originalLength: Int, truncatedLength: Int) {
        self.input = input
        self.element = element
        self.originalLength = originalLength
        self.truncatedLength = truncatedLength
    }
}

// MARK: - Plans

/// A rule in a manifest that cannot be compiled, with the constraint key it concerns.
private struct PlanError: Error {
    var key: String?
    var message: String
}

/// What one declared input is checked for, compiled from its spec.
private struct InputPlan: Sendable {
    enum Rules: Sendable {
        /// Nothing to check element by element (`BOOL`, or a number with no rules).
        case none
        case bytes(BytesRules)
        case floatingPoint(FloatingPointRules)
        case signed(IntegerRules<Int64>)
        case unsigned(IntegerRules<UInt64>)
    }

    let name: String
    /// Whether the first dimension is variable, so bounded by `limits.maxBatch`.
    let isBatched: Bool
    let rules: Rules

    init(spec: TensorSpec) throws(PlanError) {
        name = spec.name
        isBatched = spec.shape.first == -1
        let constraints = spec.constraints
        let hasBytesRules = constraints.minLength != nil || constraints.maxLength != nil || constraints.pattern != nil
            || constraints.overLength != .reject
        let hasNumericRules = constraints.minimum != nil || constraints.maximum != nil
        switch spec.datatype {
        case .bytes:
            if hasNumericRules {
                throw PlanError(key: constraints.minimum != nil ? "minimum" : "maximum", message: "does not apply to BYTES inputs")
            }
            rules = .bytes(try BytesRules(name: spec.name, constraints: constraints))
        case .bool:
            if hasBytesRules || hasNumericRules { throw PlanError(key: nil, message: "rules do not apply to BOOL inputs") }
            rules = .none
        case .fp32, .fp64:
            if hasBytesRules { throw PlanError(key: nil, message: "length and pattern rules do not apply to \(spec.datatype.rawValue) inputs") }
            let floatingPoint = FloatingPointRules(name: spec.name, datatype: spec.datatype, constraints: constraints)
            rules = floatingPoint.isTrivial ? .none : .floatingPoint(floatingPoint)
        case .int8, .int16, .int32, .int64:
            if hasBytesRules { throw PlanError(key: nil, message: "length and pattern rules do not apply to \(spec.datatype.rawValue) inputs") }
            let integer = try IntegerRules<Int64>(name: spec.name, datatype: spec.datatype, constraints: constraints)
            rules = integer.isTrivial ? .none : .signed(integer)
        case .uint8, .uint16, .uint32, .uint64:
            if hasBytesRules { throw PlanError(key: nil, message: "length and pattern rules do not apply to \(spec.datatype.rawValue) inputs") }
            let integer = try IntegerRules<UInt64>(name: spec.name, datatype: spec.datatype, constraints: constraints)
            rules = integer.isTrivial ? .none : .unsigned(integer)
        }
    }
}

/// The refusal for an element of `name`, a declared input, breaking `rule`, described for people
/// as `text`: the element index is named only when there is more than one.
private func refusal(_ name: String, element: Int, of count: Int, _ rule: ModelHostError.ValidationFailure.Rule, _ text: String) -> ModelHostError {
    let place = count > 1 ? "input \"\(name)\" element \(element)" : "input \"\(name)\""
    return ModelHostError(.validation, "\(place): \(text)", validationFailure: .init(input: name, rule: rule))
}

/// A bound from the manifest as people write it: `1000000`, not `1000000.0`.
private func describe(_ bound: Double) -> String {
    if bound == bound.rounded() {
        if abs(bound) < 0x1p63 { return String(Int64(bound)) }
        if bound > 0, bound < 0x1p64 { return String(UInt64(bound)) }
    }
    return "\(bound)"
}

// MARK: - BYTES

/// A compiled `pattern`, shared by every request that reaches the model version.
///
/// `Regex` is not `Sendable` (as of Swift 6.3): it holds a reference to a program object whose
/// executable form is compiled lazily on the first match. That lazy step is thread-safe — the
/// compiled program is published with an atomic compare-and-swap and read with an atomic load
/// (`Regex.Program.loweredProgram` in swift-experimental-string-processing) — and matching only
/// reads it, each match keeping its state in a processor of its own. The initialiser also runs one
/// match so the program is compiled before the value is shared: from then on every use is a read.
/// Hence `@unchecked Sendable`. The alternatives cost more: parsing and compiling the
/// anomaly-detector's timestamp pattern takes 0.2–0.5 ms, about a hundred times one match of the
/// compiled pattern (2–9 µs, measured on the 2-core development machine), and a lock around the
/// regex would make every request of the model wait for one slow match.
private struct CompiledPattern: @unchecked Sendable {
    /// The pattern as the manifest writes it, for messages.
    let source: String
    let regex: Regex<AnyRegexOutput>

    init(_ source: String) throws(PlanError) {
        do {
            regex = try Regex(source)
        } catch {
            throw PlanError(key: "pattern", message: "is not a valid regular expression: \(error)")
        }
        self.source = source
        _ = try? regex.wholeMatch(in: "")
    }

    /// Whether `text` matches the whole pattern; a match that throws counts as no match.
    func matchesWhole(_ text: String) -> Bool {
        ((try? regex.wholeMatch(in: text)) ?? nil) != nil
    }
}

/// The rules for one `BYTES` input.
private struct BytesRules: Sendable {
    let name: String
    let checksUTF8: Bool
    let checksNUL: Bool
    let minLength: Int
    let maxLength: Int?
    let truncates: Bool
    let pattern: CompiledPattern?

    init(name: String, constraints: InputConstraints) throws(PlanError) {
        self.name = name
        checksUTF8 = constraints.requiresUTF8
        checksNUL = !constraints.allowsNUL
        minLength = constraints.minLength ?? 0
        maxLength = constraints.maxLength
        truncates = constraints.overLength == .truncate && constraints.maxLength != nil
        if let source = constraints.pattern {
            pattern = try CompiledPattern(source)
        } else {
            pattern = nil
        }
    }

    /// A cut the tensor needs: where the element's length prefix is, and how long it is and will be.
    struct Cut {
        var element: Int
        var offset: Int
        var originalLength: Int
        var keptLength: Int
    }

    enum Outcome {
        case passed([Cut])
        case refused(element: Int, rule: ModelHostError.ValidationFailure.Rule, text: String)
    }

    /// Checks every element; returns the tensor with its over-long elements cut, or `nil` when
    /// nothing was cut.
    func check(_ tensor: Tensor, truncations: inout [Truncation]) throws(ModelHostError) -> Tensor? {
        let outcome = tensor.data.withUnsafeBytes { scan($0, count: tensor.elementCount) }
        switch outcome {
        case .refused(let element, let rule, let text):
            throw refusal(name, element: element, of: tensor.elementCount, rule, text)
        case .passed(let cuts):
            guard !cuts.isEmpty else { return nil }
            for cut in cuts {
                truncations.append(Truncation(input: name, element: cut.element, originalLength: cut.originalLength, truncatedLength: cut.keptLength))
            }
            return try Self.applying(cuts, to: tensor)
        }
    }

    private func scan(_ data: UnsafeRawBufferPointer, count: Int) -> Outcome {
        var cuts: [Cut] = []
        var offset = 0
        for element in 0..<count {
            let length = Int(UInt32(littleEndian: data.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            let bytes = UnsafeRawBufferPointer(rebasing: data[(offset + 4)..<(offset + 4 + length)])
            defer { offset += 4 + length }
            if checksUTF8 || checksNUL {
                switch firstProblem(in: bytes, checksUTF8: checksUTF8, checksNUL: checksNUL) {
                case .invalidUTF8: return .refused(element: element, rule: .utf8, text: "not valid UTF-8")
                case .nul: return .refused(element: element, rule: .nul, text: "contains a NUL byte")
                case nil: break
                }
            }
            var kept = length
            if let maxLength, length > maxLength {
                guard truncates else {
                    return .refused(element: element, rule: .maxLength, text: "longer than \(maxLength) \(bytesWord(maxLength))")
                }
                kept = characterBoundary(in: bytes, atMost: maxLength)
                cuts.append(Cut(element: element, offset: offset, originalLength: length, keptLength: kept))
            }
            if kept < minLength {
                return .refused(element: element, rule: .minLength, text: "shorter than \(minLength) \(bytesWord(minLength))")
            }
            if let pattern, !matches(pattern, UnsafeRawBufferPointer(rebasing: bytes[0..<kept])) {
                return .refused(element: element, rule: .pattern, text: "does not match the pattern \(pattern.source)")
            }
        }
        return .passed(cuts)
    }

    private func matches(_ pattern: CompiledPattern, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let units = bytes.assumingMemoryBound(to: UInt8.self)
        if checksUTF8 {
            // Already known to be valid UTF-8, so decoding repairs nothing.
            return pattern.matchesWhole(String(decoding: units, as: UTF8.self))
        }
        // Bytes that are not UTF-8 are not text, and no text pattern matches them.
        guard let text = String(validating: units, as: UTF8.self) else { return false }
        return pattern.matchesWhole(text)
    }

    private func bytesWord(_ count: Int) -> String { count == 1 ? "byte" : "bytes" }

    /// The tensor with each cut applied: lengths rewritten, the dropped bytes left out.
    private static func applying(_ cuts: [Cut], to tensor: Tensor) throws(ModelHostError) -> Tensor {
        let source = tensor.data
        var data: [UInt8] = []
        data.reserveCapacity(source.count)
        var copied = 0
        for cut in cuts {
            data.append(contentsOf: source[copied..<cut.offset])
            let kept = UInt32(cut.keptLength)
            data.append(contentsOf: [UInt8(kept & 0xFF), UInt8(kept >> 8 & 0xFF), UInt8(kept >> 16 & 0xFF), UInt8(kept >> 24)])
            data.append(contentsOf: source[(cut.offset + 4)..<(cut.offset + 4 + cut.keptLength)])
            copied = cut.offset + 4 + cut.originalLength
        }
        data.append(contentsOf: source[copied...])
        do {
            return try Tensor(name: tensor.name, datatype: tensor.datatype, shape: tensor.shape, data: data)
        } catch {
            throw ModelHostError(.internal, "truncating input \"\(tensor.name)\" produced a malformed tensor: \(error.message)")
        }
    }
}

/// Where an element of `count` bytes > `limit` may be cut: the last UTF-8 character boundary at
/// or before `limit`.
///
/// The byte at `limit` is the first one dropped; while it is a continuation byte (`10xxxxxx`) the
/// character it belongs to started earlier, so the cut moves back. A character has at most three
/// continuation bytes, so the cut moves back at most three bytes, also for bytes that are not UTF-8.
private func characterBoundary(in bytes: UnsafeRawBufferPointer, atMost limit: Int) -> Int {
    var cut = limit
    while cut > 0, limit - cut < 3, bytes[cut] & 0xC0 == 0x80 {
        cut -= 1
    }
    return cut
}

/// What is wrong with an element's bytes.
private enum ByteProblem {
    case invalidUTF8
    case nul
}

/// The first problem in `bytes`: a sequence that is not well-formed UTF-8 (Unicode table 3-7:
/// no overlong forms, no surrogates, nothing above U+10FFFF), or a NUL byte.
///
/// Runs of ASCII are skipped eight bytes at a time.
private func firstProblem(in bytes: UnsafeRawBufferPointer, checksUTF8: Bool, checksNUL: Bool) -> ByteProblem? {
    guard checksUTF8 else {
        return checksNUL && bytes.contains(0) ? .nul : nil
    }
    let count = bytes.count
    var index = 0
    while index < count {
        if count - index >= 8 {
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            let highBits: UInt64 = 0x8080_8080_8080_8080
            let isASCII = word & highBits == 0
            // Exact test for "some byte is zero" (no false positives as a whole-word answer).
            let hasZero = (word &- 0x0101_0101_0101_0101) & ~word & highBits != 0
            if isASCII, !(checksNUL && hasZero) {
                index += 8
                continue
            }
        }
        let lead = bytes[index]
        if lead < 0x80 {
            if lead == 0, checksNUL { return .nul }
            index += 1
            continue
        }
        let continuations: Int
        let second: ClosedRange<UInt8>
        switch lead {
        case 0xC2...0xDF: continuations = 1; second = 0x80...0xBF
        case 0xE0: continuations = 2; second = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: continuations = 2; second = 0x80...0xBF
        case 0xED: continuations = 2; second = 0x80...0x9F
        case 0xF0: continuations = 3; second = 0x90...0xBF
        case 0xF1...0xF3: continuations = 3; second = 0x80...0xBF
        case 0xF4: continuations = 3; second = 0x80...0x8F
        default: return .invalidUTF8
        }
        guard count - index > continuations, second.contains(bytes[index + 1]) else { return .invalidUTF8 }
        var next = index + 2
        while next <= index + continuations {
            guard bytes[next] & 0xC0 == 0x80 else { return .invalidUTF8 }
            next += 1
        }
        index = next
    }
    return nil
}

// MARK: - Numbers

/// The rules for one `FP32` or `FP64` input. Values are compared in `Double`, which holds every
/// `Float` exactly.
private struct FloatingPointRules: Sendable {
    let name: String
    let isDouble: Bool
    let lowest: Double
    let highest: Double
    let minimumText: String
    let maximumText: String
    let allowsNonFinite: Bool

    init(name: String, datatype: Datatype, constraints: InputConstraints) {
        self.name = name
        isDouble = datatype == .fp64
        // An FP32 bound is rounded to the nearest Float, so the Float a client gets for "0.01" is
        // not refused by a declared minimum of 0.01 (which as a Float is slightly below it).
        let isDouble = isDouble
        func bound(_ value: Double?, or unbounded: Double) -> Double {
            guard let value else { return unbounded }
            return isDouble ? value : Double(Float(value))
        }
        lowest = bound(constraints.minimum, or: -.infinity)
        highest = bound(constraints.maximum, or: .infinity)
        minimumText = constraints.minimum.map(describe) ?? "-inf"
        maximumText = constraints.maximum.map(describe) ?? "inf"
        allowsNonFinite = constraints.allowsNonFinite
    }

    /// Whether no element could be refused: non-finite values allowed and no bounds.
    var isTrivial: Bool { allowsNonFinite && lowest == -.infinity && highest == .infinity }

    func check(_ tensor: Tensor) throws(ModelHostError) {
        let found = tensor.data.withUnsafeBytes { data -> (Int, NumericViolation)? in
            if isDouble {
                for index in 0..<(data.count / 8) {
                    let bits = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: index &* 8, as: UInt64.self))
                    if let violation = violation(Double(bitPattern: bits)) { return (index, violation) }
                }
            } else {
                for index in 0..<(data.count / 4) {
                    let bits = UInt32(littleEndian: data.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self))
                    if let violation = violation(Double(Float(bitPattern: bits))) { return (index, violation) }
                }
            }
            return nil
        }
        guard let (element, violation) = found else { return }
        switch violation {
        case .nonFinite:
            throw refusal(name, element: element, of: tensor.elementCount, .nonFinite, "not a finite number (NaN and infinities are refused)")
        case .belowMinimum:
            throw refusal(name, element: element, of: tensor.elementCount, .minimum, "below the minimum of \(minimumText)")
        case .aboveMaximum:
            throw refusal(name, element: element, of: tensor.elementCount, .maximum, "above the maximum of \(maximumText)")
        }
    }

    /// NaN passes both comparisons, so an allowed NaN is never out of bounds; an allowed infinity
    /// still is when a bound is declared.
    @inline(__always)
    private func violation(_ value: Double) -> NumericViolation? {
        if !allowsNonFinite, !value.isFinite { return .nonFinite }
        if value < lowest { return .belowMinimum }
        if value > highest { return .aboveMaximum }
        return nil
    }
}

/// Why a number was refused.
private enum NumericViolation {
    case nonFinite
    case belowMinimum
    case aboveMaximum
}

/// The rules for one integer input, widened to `Int64` (signed datatypes) or `UInt64` (unsigned).
///
/// The manifest's `Double` bounds become the exact integer range they allow — `minimum: 0.5`
/// allows 1 and up — clamped to the datatype's range, so checks compare integers and never lose
/// precision near 2^63.
private struct IntegerRules<Wide: FixedWidthInteger & Sendable>: Sendable {
    let name: String
    let datatype: Datatype
    let lowest: Wide
    let highest: Wide
    let minimumText: String
    let maximumText: String
    /// Whether the bounds are the datatype's own, so nothing can be refused.
    let isTrivial: Bool

    init(name: String, datatype: Datatype, constraints: InputConstraints) throws(PlanError) {
        self.name = name
        self.datatype = datatype
        let (typeLowest, typeHighest) = Self.range(of: datatype)
        // 2^63 for Int64, 2^64 for UInt64: the first integral Double past the wide type.
        let pastWide = Double(sign: .plus, exponent: Wide.bitWidth - (Wide.isSigned ? 1 : 0), significand: 1)
        var lowest = typeLowest
        var highest = typeHighest
        if let minimum = constraints.minimum {
            let ceiling = minimum.rounded(.up)
            if ceiling > Double(typeLowest) {
                guard ceiling < pastWide, let bound = Wide(exactly: ceiling), bound <= typeHighest else {
                    throw PlanError(key: "minimum", message: "\(describe(minimum)) is above the largest \(datatype.rawValue) value; no value could pass")
                }
                lowest = bound
            }
        }
        if let maximum = constraints.maximum {
            let floor = maximum.rounded(.down)
            if floor < pastWide {
                guard floor >= Double(typeLowest), let bound = Wide(exactly: floor) else {
                    throw PlanError(key: "maximum", message: "\(describe(maximum)) is below the smallest \(datatype.rawValue) value; no value could pass")
                }
                highest = min(bound, typeHighest)
            }
        }
        guard lowest <= highest else {
            throw PlanError(key: "minimum", message: "no \(datatype.rawValue) value lies between the minimum and the maximum")
        }
        self.lowest = lowest
        self.highest = highest
        minimumText = constraints.minimum.map(describe) ?? String(typeLowest)
        maximumText = constraints.maximum.map(describe) ?? String(typeHighest)
        isTrivial = lowest == typeLowest && highest == typeHighest
    }

    /// The datatype's range, widened.
    private static func range(of datatype: Datatype) -> (Wide, Wide) {
        switch datatype {
        case .int8: (Wide(Int8.min), Wide(Int8.max))
        case .int16: (Wide(Int16.min), Wide(Int16.max))
        case .int32: (Wide(Int32.min), Wide(Int32.max))
        case .uint8: (Wide(UInt8.min), Wide(UInt8.max))
        case .uint16: (Wide(UInt16.min), Wide(UInt16.max))
        case .uint32: (Wide(UInt32.min), Wide(UInt32.max))
        default: (Wide.min, Wide.max)
        }
    }

    func check(_ tensor: Tensor) throws(ModelHostError) {
        let found = tensor.data.withUnsafeBytes { data -> (Int, NumericViolation)? in
            switch datatype {
            case .int8: Self.firstOutside(data, Int8.self, lowest, highest)
            case .int16: Self.firstOutside(data, Int16.self, lowest, highest)
            case .int32: Self.firstOutside(data, Int32.self, lowest, highest)
            case .int64: Self.firstOutside(data, Int64.self, lowest, highest)
            case .uint8: Self.firstOutside(data, UInt8.self, lowest, highest)
            case .uint16: Self.firstOutside(data, UInt16.self, lowest, highest)
            case .uint32: Self.firstOutside(data, UInt32.self, lowest, highest)
            case .uint64: Self.firstOutside(data, UInt64.self, lowest, highest)
            default: nil
            }
        }
        guard let (element, violation) = found else { return }
        if violation == .belowMinimum {
            throw refusal(name, element: element, of: tensor.elementCount, .minimum, "below the minimum of \(minimumText)")
        }
        throw refusal(name, element: element, of: tensor.elementCount, .maximum, "above the maximum of \(maximumText)")
    }

    /// The first element of type `Element` outside `lowest...highest`, which lie within its range.
    @inline(__always)
    private static func firstOutside<Element: FixedWidthInteger>(
        _ data: UnsafeRawBufferPointer, _: Element.Type, _ lowest: Wide, _ highest: Wide
    ) -> (Int, NumericViolation)? {
        let low = Element(truncatingIfNeeded: lowest)
        let high = Element(truncatingIfNeeded: highest)
        let size = MemoryLayout<Element>.size
        for index in 0..<(data.count / size) {
            let value = Element(littleEndian: data.loadUnaligned(fromByteOffset: index &* size, as: Element.self))
            if value < low { return (index, .belowMinimum) }
            if value > high { return (index, .aboveMaximum) }
        }
        return nil
    }
}
