import Foundation
import ModelHostCore
import Testing

@Suite("Datatype")
struct DatatypeTests {
    @Test(
        "element sizes",
        arguments: [
            (Datatype.bool, 1), (.uint8, 1), (.int8, 1), (.uint16, 2), (.int16, 2), (.uint32, 4), (.int32, 4), (.fp32, 4),
            (.uint64, 8), (.int64, 8), (.fp64, 8),
        ]
    )
    func elementSize(_ datatype: Datatype, _ size: Int) {
        #expect(datatype.elementSize == size)
    }

    @Test("BYTES has no fixed element size")
    func bytesSize() {
        #expect(Datatype.bytes.elementSize == nil)
    }

    /// The values of `mh_datatype` in `modelhost_plugin.h`.
    static let abiCodes: [(Datatype, Int32)] = [
        (.bool, 1), (.uint8, 2), (.uint16, 3), (.uint32, 4), (.uint64, 5), (.int8, 6), (.int16, 7), (.int32, 8),
        (.int64, 9), (.fp32, 11), (.fp64, 12), (.bytes, 13),
    ]

    @Test("ABI codes are the header's and round-trip", arguments: abiCodes)
    func abiCode(_ datatype: Datatype, _ code: Int32) {
        #expect(datatype.abiCode == code)
        #expect(Datatype(abiCode: code) == datatype)
    }

    @Test("every datatype has a distinct ABI code")
    func abiCodesDistinct() {
        #expect(Set(Datatype.allCases.map(\.abiCode)).count == Datatype.allCases.count)
        #expect(Self.abiCodes.count == Datatype.allCases.count)
    }

    @Test("codes the ABI does not define are unknown", arguments: [Int32.min, -1, 0, 10, 14, 255, Int32.max])
    func unknownCodes(_ code: Int32) {
        #expect(Datatype(abiCode: code) == nil)
    }

    @Test("the codes match modelhost_plugin.h as written")
    func matchesHeader() throws {
        let header = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/CModelHostPlugin/include/modelhost_plugin.h")
        let text = try String(contentsOf: header, encoding: .utf8)
        var declared: [String: Int32] = [:]
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("MH_DATATYPE_") else { continue }
            let parts = trimmed.dropFirst("MH_DATATYPE_".count).split(separator: "=")
            guard parts.count == 2 else { continue }
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            let value = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: " ,"))
            declared[name] = Int32(value)
        }
        #expect(declared.count == Datatype.allCases.count)
        for datatype in Datatype.allCases {
            #expect(declared[datatype.rawValue] == datatype.abiCode, "\(datatype.rawValue)")
        }
    }

    @Test("raw values are the protocol's spellings and decode from JSON")
    func spellings() throws {
        #expect(Datatype.allCases.map(\.rawValue) == ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP32", "FP64", "BYTES"])
        #expect(try JSONDecoder().decode([Datatype].self, from: Data(#"["FP32","BYTES"]"#.utf8)) == [.fp32, .bytes])
        #expect(Datatype(rawValue: "fp32") == nil)
        #expect(Datatype(rawValue: "FP16") == nil)
    }

    @Test("numeric and floating-point classification")
    func classification() {
        #expect(Datatype.allCases.filter(\.isNumeric) == [.uint8, .uint16, .uint32, .uint64, .int8, .int16, .int32, .int64, .fp32, .fp64])
        #expect(Datatype.allCases.filter(\.isFloatingPoint) == [.fp32, .fp64])
    }
}
