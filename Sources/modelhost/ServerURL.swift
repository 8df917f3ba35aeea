import Foundation

/// The base URL of a running server, as `--server` gives it: `http://HOST[:PORT][/PREFIX]`.
struct ServerURL: Sendable, Hashable, CustomStringConvertible {
    /// The host name or address, without brackets.
    var host: String
    /// The port; 80 when the URL names none.
    var port: Int
    /// A path prefix in front of every route (a proxy's mount point), without a trailing `/`;
    /// empty for none.
    var basePath: String

    /// Parses `text`.
    ///
    /// - Throws: A message saying what is wrong with it, fit for a `ValidationError`.
    init(parsing text: String) throws(ServerURLError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw ServerURLError("\"\(text)\" is not a URL such as http://127.0.0.1:8080")
        }
        if scheme == "https" {
            throw ServerURLError("\(text): https is not supported; ModelHost serves plain HTTP (terminate TLS in front of it) — give an http:// URL")
        }
        guard scheme == "http" else {
            throw ServerURLError("\(text): only http:// URLs are supported")
        }
        guard let host = components.host, !host.isEmpty else {
            throw ServerURLError("\(text) names no host")
        }
        if components.user != nil || components.password != nil {
            throw ServerURLError("\(text): credentials do not belong in the URL; set MODELHOST_ADMIN_KEY instead")
        }
        if components.query != nil || components.fragment != nil {
            throw ServerURLError("\(text): a server URL takes no query or fragment")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw ServerURLError("\(text): the port must be 1 to 65535")
        }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 80
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        self.basePath = path
    }

    /// The `Host` header's value.
    var hostHeader: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return port == 80 ? host : "\(host):\(port)"
    }

    /// The URL as it would be written: `http://127.0.0.1:8080`.
    var description: String {
        "http://\(hostHeader)\(basePath)"
    }
}

/// A `--server` value that is not a usable server URL.
struct ServerURLError: Error, CustomStringConvertible {
    /// What is wrong with it.
    var description: String

    init(_ description: String) { self.description = description }
}
