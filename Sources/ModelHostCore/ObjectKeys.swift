/// The keys a JSON object has used so far, to refuse a duplicate.
///
/// Request objects have a handful of keys, so they are kept in a short list searched in order,
/// which costs no hashing; an object with many keys moves to a set. Keys compare as Swift
/// strings, by canonical equivalence, either way.
struct ObjectKeys {
    /// How many keys the list holds before the keys move to a set.
    private static let listLimit = 16

    private var list: [String] = []
    private var set: Set<String>?

    /// Adds `key`; returns `false`, changing nothing, when the object already has it.
    mutating func insert(_ key: String) -> Bool {
        if set != nil {
            return set!.insert(key).inserted
        }
        if list.contains(key) { return false }
        if list.count < Self.listLimit {
            list.append(key)
        } else {
            var keys = Set(list)
            keys.insert(key)
            set = keys
            list = []
        }
        return true
    }
}
