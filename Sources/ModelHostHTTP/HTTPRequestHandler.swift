import Logging
import ModelHostCore
import NIOCore
import NIOHTTP1

/// Serves the requests of one connection on its event loop, one at a time (NIO's pipelining
/// handler, ahead of this one, holds back the next request until this one is answered).
///
/// The head decides everything it can before the body is read: a refused request is answered at
/// once and its body is never buffered — it is read and dropped if small, else the connection
/// closes after the answer. An admitted request's body is buffered within the per-request limit
/// and the process-wide budget; then the service decodes it and submits it to the model
/// version's threads, and the answer comes back to this event loop to be written. A caller that
/// disconnects has its call cancelled.
final class HTTPRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// What one connection may send.
    struct Limits: Sendable {
        /// The largest request body, in bytes; beyond it, 413.
        var maxBodyBytes: Int
        /// The largest body of a refused request that is read and dropped to keep the connection;
        /// a larger one closes it.
        var maxDiscardedBodyBytes: Int
        /// How long a connection whose output is closed may keep sending before it is closed.
        var lingerTime: TimeAmount
    }

    /// What the connection's current request is doing.
    private enum State {
        /// Waiting for a request.
        case idle
        /// Admitted; its body is being read.
        case reading(Reading)
        /// Answered already; the rest of it is read and dropped.
        case discarding(Discarding)
        /// Submitted to a model version; waiting for the answer.
        case waiting(Waiting)
        /// The connection is closing; everything is dropped.
        case closing
    }

    private struct Exchange {
        var version: HTTPVersion
        var isKeepAlive: Bool
        /// Bytes reserved in the body budget.
        var reserved: Int
    }

    private struct Reading {
        var exchange: Exchange
        var admitted: AdmittedRequest
        var body: ByteBuffer?
    }

    private struct Discarding {
        var isKeepAlive: Bool
        var remaining: Int
    }

    private struct Waiting {
        var exchange: Exchange
        var sequence: UInt64
        var call: ModelHostService.PendingCall?
    }

    private let service: ModelHostService
    private let budget: RequestBodyBudget
    private let limits: Limits
    private let logger: Logger
    private var state = State.idle
    private var context: ChannelHandlerContext?
    private var clientAddress = "unknown"
    private var sequence: UInt64 = 0
    private var memo = ConnectionMemo()

    init(service: ModelHostService, budget: RequestBodyBudget, limits: Limits, logger: Logger) {
        self.service = service
        self.budget = budget
        self.limits = limits
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        clientAddress = context.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        clientAddress = context.channel.remoteAddress?.ipAddress ?? "unknown"
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The caller is gone: nobody waits for what is in flight.
        switch state {
        case .reading(let reading):
            budget.release(reading.exchange.reserved)
        case .waiting(let waiting):
            budget.release(waiting.exchange.reserved)
            waiting.call?.cancel()
        case .idle, .discarding, .closing:
            break
        }
        state = .closing
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error", metadata: ["client": "\(clientAddress)", "error": "\(error)"])
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): received(head, context: context)
        case .body(let chunk): received(chunk, context: context)
        case .end: receivedEnd(context: context)
        }
    }

    // MARK: The request

    private func received(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard case .idle = state else { return }
        let contentLength = head.headers.first(name: "content-length").flatMap(Int.init)
        let isChunked = head.headers[canonicalForm: "transfer-encoding"].contains { $0.lowercased() == "chunked" }
        let hasBody = isChunked || (contentLength ?? 0) > 0
        let expectsContinue = head.headers[canonicalForm: "expect"].contains { $0.lowercased() == "100-continue" }
        switch service.decide(head: head, clientAddress: clientAddress, memo: &memo) {
        case .respond(let response):
            refuse(response, head: head, hasBody: hasBody, contentLength: isChunked ? nil : contentLength, expectsContinue: expectsContinue, context: context)
        case .readBody(let admitted):
            if let contentLength, contentLength > limits.maxBodyBytes {
                refuse(tooLarge(admitted), head: head, hasBody: true, contentLength: nil, expectsContinue: expectsContinue, context: context)
                return
            }
            // The body's memory is reserved before its first byte is buffered.
            let reservation = contentLength ?? 0
            guard budget.reserve(reservation) else {
                refuse(overBudget(admitted), head: head, hasBody: hasBody, contentLength: nil, expectsContinue: expectsContinue, context: context)
                return
            }
            let exchange = Exchange(version: head.version, isKeepAlive: head.isKeepAlive, reserved: reservation)
            state = .reading(Reading(exchange: exchange, admitted: admitted, body: nil))
            if expectsContinue {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
        }
    }

    private func received(_ chunk: ByteBuffer, context: ChannelHandlerContext) {
        switch state {
        case .reading(var reading):
            let size = (reading.body?.readableBytes ?? 0) + chunk.readableBytes
            guard size <= limits.maxBodyBytes else {
                budget.release(reading.exchange.reserved)
                state = .idle
                answerAndClose(tooLarge(reading.admitted), version: reading.exchange.version, context: context)
                return
            }
            // Without a Content-Length, the budget is taken as the chunks arrive.
            if size > reading.exchange.reserved {
                guard budget.reserve(size - reading.exchange.reserved) else {
                    budget.release(reading.exchange.reserved)
                    state = .idle
                    answerAndClose(overBudget(reading.admitted), version: reading.exchange.version, context: context)
                    return
                }
                reading.exchange.reserved = size
            }
            state = .closing  // No copy-on-write of the body while it is taken out of `state`.
            if reading.body == nil {
                reading.body = chunk
            } else {
                var chunk = chunk
                reading.body!.writeBuffer(&chunk)
            }
            state = .reading(reading)
        case .discarding(var discarding):
            discarding.remaining -= chunk.readableBytes
            if discarding.remaining < 0 {
                // More than a refused request may send on a kept connection.
                state = .closing
                context.close(promise: nil)
            } else {
                state = .discarding(discarding)
            }
        case .waiting, .idle, .closing:
            break
        }
    }

    private func receivedEnd(context: ChannelHandlerContext) {
        switch state {
        case .reading(let reading):
            sequence &+= 1
            let sequence = self.sequence
            state = .waiting(Waiting(exchange: reading.exchange, sequence: sequence, call: nil))
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            let body = reading.body ?? context.channel.allocator.buffer(capacity: 0)
            let call = service.respond(to: reading.admitted, body: body) { response in
                if eventLoop.inEventLoop {
                    handler.value.answer(response, sequence: sequence)
                } else {
                    eventLoop.execute { handler.value.answer(response, sequence: sequence) }
                }
            }
            if case .waiting(var waiting) = state, waiting.sequence == sequence {
                waiting.call = call
                state = .waiting(waiting)
            }
        case .discarding(let discarding):
            state = .idle
            if !discarding.isKeepAlive { context.close(promise: nil) }
        case .waiting, .idle, .closing:
            break
        }
    }

    // MARK: Answers

    /// Writes the answer to the submitted request `sequence`, if the connection still waits for it.
    private func answer(_ response: HTTPResponse, sequence: UInt64) {
        guard let context, case .waiting(let waiting) = state, waiting.sequence == sequence else { return }
        budget.release(waiting.exchange.reserved)
        state = .idle
        let isKeepAlive = waiting.exchange.isKeepAlive
        if isKeepAlive {
            write(response, version: waiting.exchange.version, isKeepAlive: true, context: context, promise: nil)
        } else {
            state = .closing
            let channel = context.channel
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenComplete { _ in channel.close(promise: nil) }
            write(response, version: waiting.exchange.version, isKeepAlive: false, context: context, promise: written)
        }
    }

    /// Answers a request at its head, without reading its body into memory.
    ///
    /// A small body (up to `maxDiscardedBodyBytes`, by its Content-Length) is read and dropped so
    /// the connection can serve the next request; anything else closes the connection after the
    /// answer: a client that waits for `100 Continue` never sends its body, and a large or chunked
    /// one is not worth reading.
    private func refuse(_ response: HTTPResponse, head: HTTPRequestHead, hasBody: Bool, contentLength: Int?, expectsContinue: Bool, context: ChannelHandlerContext) {
        if !hasBody {
            state = .discarding(Discarding(isKeepAlive: head.isKeepAlive, remaining: 0))
            write(response, version: head.version, isKeepAlive: head.isKeepAlive, context: context, promise: nil)
            return
        }
        if !expectsContinue, let contentLength, contentLength <= limits.maxDiscardedBodyBytes {
            state = .discarding(Discarding(isKeepAlive: head.isKeepAlive, remaining: contentLength))
            write(response, version: head.version, isKeepAlive: head.isKeepAlive, context: context, promise: nil)
            return
        }
        answerAndClose(response, version: head.version, context: context)
    }

    /// Writes `response` with `Connection: close`, then stops writing and closes the connection
    /// once the client has read it (or after the linger time), dropping what it still sends.
    private func answerAndClose(_ response: HTTPResponse, version: HTTPVersion, context: ChannelHandlerContext) {
        state = .closing
        let channel = context.channel
        let linger = limits.lingerTime
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { _ in
            // Closing only our side first lets the client read the answer instead of a reset.
            channel.close(mode: .output, promise: nil)
            channel.eventLoop.scheduleTask(in: linger) { channel.close(promise: nil) }
        }
        write(response, version: version, isKeepAlive: false, context: context, promise: written)
    }

    private func write(_ response: HTTPResponse, version: HTTPVersion, isKeepAlive: Bool, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        var response = response
        // Counted, logged and given its request id and trace headers, once, here.
        service.finish(&response)
        var headers = response.headers
        headers.add(name: "Content-Length", value: String(response.body.readableBytes))
        if !headers.contains(name: "Content-Type") {
            headers.add(name: "Content-Type", value: "application/json")
        }
        // HTTP/1.1 keeps the connection by default; only the exceptions are said.
        if !isKeepAlive {
            headers.add(name: "Connection", value: "close")
        } else if version.major == 1, version.minor == 0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: response.status, headers: headers))), promise: nil)
        if response.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
    }

    private func tooLarge(_ admitted: AdmittedRequest) -> HTTPResponse {
        var response = HTTPResponse(error: ModelHostError(.payloadTooLarge, "request body is larger than the limit of \(limits.maxBodyBytes) bytes"))
        response.summary = admitted.summary(code: response.errorCode)
        return response
    }

    private func overBudget(_ admitted: AdmittedRequest) -> HTTPResponse {
        var response = HTTPResponse(error: ModelHostError(.overloaded, "the server is holding as many request bodies as its memory budget allows (\(budget.limit) bytes); retry shortly"))
        response.summary = admitted.summary(code: response.errorCode)
        return response
    }
}
