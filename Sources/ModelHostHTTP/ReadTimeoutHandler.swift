import NIOCore
import NIOHTTP1

/// Closes a connection whose next request does not arrive in full within a deadline.
///
/// The deadline runs whenever the server is waiting for a request: from the moment the connection
/// opens, and again after each response is written, until the request's end has been read. A
/// client that trickles bytes, or holds an idle keep-alive connection, is cut off when it expires.
/// While a request is being answered no deadline runs: the model's own timeout governs that.
///
/// The timer is lazy: one scheduled check per connection, not one per request. Each request only
/// stores when the wait began; when the check fires it closes the connection if the wait is over,
/// and otherwise schedules itself for when it would be.
final class ReadTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    /// When the server began waiting for the current request; `nil` while one is being answered.
    private var waitingSince: NIODeadline?
    private var check: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startWaiting(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startWaiting(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { waitingSince = nil }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { startWaiting(context: context) }
        context.write(data, promise: promise)
    }

    private func startWaiting(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        waitingSince = now
        if check == nil { schedule(at: now + timeout, context: context) }
    }

    private func schedule(at deadline: NIODeadline, context: ChannelHandlerContext) {
        let handler = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        check = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = handler.value
            handler.fire(context: context)
        }
    }

    private func fire(context: ChannelHandlerContext) {
        check = nil
        guard let waitingSince else { return }  // Answering: the next wait schedules a check.
        let deadline = waitingSince + timeout
        if deadline <= .now() {
            context.channel.close(promise: nil)
        } else {
            schedule(at: deadline, context: context)
        }
    }

    private func stop() {
        check?.cancel()
        check = nil
        waitingSince = nil
    }
}
