import ModelHostCore
import NIOCore
import NIOHTTP1

/// A complete HTTP request as the service sees it: head and whole body.
public struct HTTPRequest: Sendable {
    /// The method.
    public var method: HTTPMethod
    /// The request target's path, without the query.
    public var path: String
    /// The request headers.
    public var headers: HTTPHeaders
    /// The whole body.
    public var body: ByteBuffer
    /// The client's IP address, or `unknown`.
    public var clientAddress: String

    /// Creates a request.
    public init(method: HTTPMethod, path: String, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer(), clientAddress: String = "unknown") {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.clientAddress = clientAddress
    }
}

/// A complete HTTP response: status, headers and body.
public struct HTTPResponse: Sendable {
    /// The status.
    public var status: HTTPResponseStatus
    /// The headers; `Content-Length` and `Content-Type` are added when it is written.
    public var headers: HTTPHeaders
    /// The body.
    public var body: ByteBuffer
    /// The error code the response answers with, if it is an error response.
    var errorCode: ModelHostError.Code?
    /// What the log and the counts say about the request; set by the service.
    var summary: RequestSummary?

    /// Creates a response.
    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The header that names the model version that served (or was chosen for) a request.
    public static let modelVersionHeader = "X-Model-Version"

    /// A JSON response from bytes a ``ModelHostCore/JSONWriter`` produced.
    static func json(_ status: HTTPResponseStatus, _ bytes: [UInt8], modelVersion: String? = nil) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        if let modelVersion { headers.add(name: modelVersionHeader, value: modelVersion) }
        return HTTPResponse(status: status, headers: headers, body: ByteBuffer(bytes: bytes))
    }
}
