import NIOCore

/// Applies the connection limit on the listening socket: while the limit is reached, the server
/// stops accepting, so further clients wait in the kernel's backlog instead of being accepted
/// and dropped. Every accepted connection is recorded in the tracker until it closes.
///
/// Sits in the server channel's pipeline, where each inbound message is an accepted channel.
/// The server accepts one connection per read (`maxMessagesPerRead` 1), so the limit is exact.
final class ConnectionLimitHandler: ChannelDuplexHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel
    typealias OutboundIn = Never
    typealias OutboundOut = Never

    private let maxConnections: Int
    private let tracker: ConnectionTracker
    private var openConnections = 0
    private var isReadPending = false
    private var isRemoved = false

    init(maxConnections: Int, tracker: ConnectionTracker) {
        self.maxConnections = max(1, maxConnections)
        self.tracker = tracker
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let connection = unwrapInboundIn(data)
        openConnections += 1
        tracker.opened(connection)
        let eventLoop = context.eventLoop
        let handler = NIOLoopBound((self, context), eventLoop: eventLoop)
        connection.closeFuture.whenComplete { [tracker] _ in
            tracker.closed(connection)
            eventLoop.execute {
                let (handler, context) = handler.value
                handler.connectionClosed(context: context)
            }
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        if openConnections < maxConnections {
            context.read()
        } else {
            isReadPending = true
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        isRemoved = true
    }

    private func connectionClosed(context: ChannelHandlerContext) {
        openConnections -= 1
        if isReadPending, !isRemoved, openConnections < maxConnections {
            isReadPending = false
            context.read()
        }
    }
}
