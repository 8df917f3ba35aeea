/// A first-in, first-out queue in one growable circular buffer.
///
/// Appending and taking from the front are O(1); removing from the middle (a cancelled or
/// expired job) is O(n) in the queue's length, which the version's `maxQueue` bounds. A slot that
/// is taken is cleared at once, so a job leaves nothing behind once it is dequeued.
struct RingBuffer<Element> {
    private var storage: [Element?] = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ element: Element) {
        if count == storage.count { grow() }
        storage[(head + count) % storage.count] = element
        count += 1
    }

    /// Puts `element` at the front, to be taken next.
    mutating func prepend(_ element: Element) {
        if count == storage.count { grow() }
        head = (head + storage.count - 1) % storage.count
        storage[head] = element
        count += 1
    }

    /// The element at the front, not taken.
    var first: Element? { count > 0 ? storage[head] : nil }

    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head + 1) % storage.count
        count -= 1
        return element
    }

    /// Removes every element for which `shouldRemove` is true, keeping the others in order, and
    /// returns the removed ones in order.
    mutating func removeAll(where shouldRemove: (Element) -> Bool) -> [Element] {
        guard count > 0 else { return [] }
        var removed: [Element] = []
        var kept = 0
        for offset in 0..<count {
            let index = (head + offset) % storage.count
            let element = storage[index]!
            if shouldRemove(element) {
                removed.append(element)
            } else {
                storage[(head + kept) % storage.count] = element
                kept += 1
            }
        }
        for offset in kept..<count {
            storage[(head + offset) % storage.count] = nil
        }
        count = kept
        return removed
    }

    /// Calls `body` with every element, front to back.
    func forEach(_ body: (Element) -> Void) {
        for offset in 0..<count {
            body(storage[(head + offset) % storage.count]!)
        }
    }

    private mutating func grow() {
        var grown = [Element?](repeating: nil, count: max(8, storage.count * 2))
        for offset in 0..<count {
            grown[offset] = storage[(head + offset) % storage.count]
        }
        storage = grown
        head = 0
    }
}
