import Gatekeeper
import Logging
import ModelHostCore
import ModelHostLogging
import ModelRegistry
import NIOHTTP1
import Telemetry

/// The request log and the edge's counts of refusals: one line per answered request, with ids,
/// outcome and timings — never a key or any content.
extension ModelHostService {
    /// Writes one answered request's line.
    func logRequest(_ summary: RequestSummary, status: HTTPResponseStatus, to requestLog: RequestLog) {
        requestLog.write(RequestLog.Entry(
            requestID: summary.requestID, traceID: summary.trace.traceID, spanID: summary.trace.parentID,
            status: Int(status.code), code: summary.code?.rawValue ?? VersionTelemetry.successLabel,
            total: summary.total ?? summary.receivedAt.duration(to: .now),
            model: summary.model, version: summary.version, keyID: summary.keyID,
            queued: summary.queued, inference: summary.inference
        ))
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
