import Logging

/// The order a line lists metadata in: by the names' UTF-8 bytes, so that lines from one call
/// site look alike and diff cleanly, whatever order the dictionary holds them in.
enum MetadataOrder {
    /// A member's position in its dictionary, and the first eight bytes of its name as one
    /// big-endian number: most names differ in those, so most comparisons are one integer's.
    private struct Entry {
        var prefix: UInt64
        var index: Logger.Metadata.Index
    }

    /// Calls `body` with each member of `dictionary` in the order of their names.
    ///
    /// The order is worked out in a temporary buffer (on the stack for any usual size) of
    /// positions, so no strings or values are moved and nothing is allocated on the heap.
    static func forEach(in dictionary: Logger.Metadata, _ body: (String, Logger.Metadata.Value) -> Void) {
        guard dictionary.count > 1 else {
            for (key, value) in dictionary { body(key, value) }
            return
        }
        withUnsafeTemporaryAllocation(of: Entry.self, capacity: dictionary.count) { buffer in
            var entries = buffer
            var index = dictionary.startIndex
            var count = 0
            for key in dictionary.keys {
                var key = key
                entries.initializeElement(at: count, to: Entry(prefix: key.withUTF8(prefix), index: index))
                count += 1
                dictionary.formIndex(after: &index)
            }
            entries.sort { first, second in
                if first.prefix != second.prefix { return first.prefix < second.prefix }
                return dictionary.keys[first.index].utf8.lexicographicallyPrecedes(dictionary.keys[second.index].utf8)
            }
            for entry in entries {
                let member = dictionary[entry.index]
                body(member.key, member.value)
            }
            // Entry is a trivial type: the buffer needs no deinitialization.
        }
    }

    /// The first eight bytes of `name`, zero-padded, as a big-endian number.
    private static func prefix(_ name: UnsafeBufferPointer<UInt8>) -> UInt64 {
        if name.count >= 8 {
            return UInt64(bigEndian: UnsafeRawBufferPointer(name).loadUnaligned(as: UInt64.self))
        }
        var prefix: UInt64 = 0
        for position in 0..<8 {
            prefix <<= 8
            if position < name.count { prefix |= UInt64(name[position]) }
        }
        return prefix
    }
}
