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
        let origin = summary.origin
        requestLog.write(RequestLog.Entry(
            requestID: origin.requestID, traceID: origin.trace.traceID, spanID: origin.trace.parentID,
            status: Int(status.code), code: summary.code?.rawValue ?? VersionTelemetry.successLabel,
            total: summary.total ?? origin.receivedAt.duration(to: .now),
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
        let (level, message, event, output, psi): (Logger.Level, Logger.Message, String, String, Double) = switch change {
        case .started(let output, let psi): (.warning, "predictions drifting from their reference", "drift_alarm", output, psi)
        case .cleared(let output, let psi): (.notice, "predictions back within the drift threshold", "drift_cleared", output, psi)
        }
        logger.log(level: level, message, metadata: [
            "event": .string(event), "model": .string(record.name), "version": .string(record.version),
            "output": .string(output), "psi": .stringConvertible(psi),
        ])
    }
}
