import Gatekeeper
import Logging
import ModelHostCore
import ModelRegistry
import NIOHTTP1
import Telemetry

/// The request log and the edge's counts of refusals: one line per answered request, with ids,
/// outcome and timings — never a key or any content.
extension ModelHostService {
    /// Logs one answered request at `info`.
    func logRequest(_ summary: RequestSummary, status: HTTPResponseStatus, to requestLogger: Logger) {
        let total = summary.total ?? summary.receivedAt.duration(to: .now)
        var metadata: Logger.Metadata = [
            "request_id": .string(summary.requestID),
            "trace_id": .string(summary.trace.traceID),
            "span_id": .string(summary.trace.parentID),
            "status": .stringConvertible(Int(status.code)),
            "code": .string(summary.code?.rawValue ?? VersionTelemetry.successLabel),
            "total_seconds": .stringConvertible(total.seconds),
        ]
        if let model = summary.model { metadata["model"] = .string(model) }
        if let version = summary.version { metadata["version"] = .string(version) }
        if let keyID = summary.keyID { metadata["key_id"] = .string(keyID) }
        if let queued = summary.queued { metadata["queue_seconds"] = .stringConvertible(queued.seconds) }
        if let inference = summary.inference { metadata["inference_seconds"] = .stringConvertible(inference.seconds) }
        requestLogger.info("request", metadata: metadata)
    }

    /// Counts a refusal at admission by its reason: an authentication failure or a rate limit.
    func count(_ decision: AdmissionDecision) {
        guard let reason = decision.refusalReason else { return }
        if reason.kind == .rateLimited {
            counters.rateLimited.increment(reason.label)
        } else if reason.isAuthenticationFailure {
            counters.authenticationFailures.increment(reason.label)
        }
    }
}

extension ModelHostService {
    /// Logs a version's tracked outputs drifting from their reference, or coming back.
    func logDrift(_ change: PredictionTracker.DriftChange, record: ModelVersionRecord) {
        var metadata: Logger.Metadata = ["event": "drift_alarm", "model": .string(record.name), "version": .string(record.version)]
        switch change {
        case .started(let output, let psi):
            metadata["output"] = .string(output)
            metadata["psi"] = .stringConvertible(psi)
            logger.warning("predictions drifting from their reference", metadata: metadata)
        case .cleared(let output, let psi):
            metadata["event"] = "drift_cleared"
            metadata["output"] = .string(output)
            metadata["psi"] = .stringConvertible(psi)
            logger.notice("predictions back within the drift threshold", metadata: metadata)
        }
    }
}
