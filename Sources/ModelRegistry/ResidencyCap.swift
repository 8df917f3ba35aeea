/// Which loaded versions of a model to unload so that at most a given number stay resident.
enum ResidencyCap {
    /// The versions to unload, oldest first.
    ///
    /// - Parameters:
    ///   - resident: The model's loaded versions, oldest first (the registry's version order).
    ///   - active: The version serving requests without a version, never unloaded.
    ///   - limit: The most versions to keep; values below 1 count as 1.
    ///   - isProtected: Whether a version must stay (pinned), never unloaded either.
    /// - Returns: The oldest versions that are neither active nor protected, as many as it takes
    ///   to reach `limit` — fewer when too many are active or protected.
    static func versionsToUnload(
        resident: [String], active: String?, limit: Int, isProtected: (String) -> Bool
    ) -> [String] {
        let excess = resident.count - max(1, limit)
        guard excess > 0 else { return [] }
        return Array(resident.filter { $0 != active && !isProtected($0) }.prefix(excess))
    }
}
