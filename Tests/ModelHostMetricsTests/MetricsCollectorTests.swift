import ModelHostCore
import ModelRegistry
import PluginLoader
import Testing

@testable import ModelHostMetrics
@testable import Telemetry

@Suite struct MetricsCollectorTests {
    private func collector(_ registry: ModelRegistry, _ counters: EdgeCounters = EdgeCounters()) -> MetricsCollector {
        MetricsCollector(
            registry: registry, counters: counters, serverVersion: "9.9.9",
            process: { ProcessStatistics(residentMemoryBytes: 1024, cpuSeconds: 1.5, startTimeSeconds: 1_700_000_000, openFileDescriptors: 7, maxFileDescriptors: 1024) }
        )
    }

    @Test func everyFamilyHasOneHeaderAndItsSamplesFollowIt() {
        let registry = ModelRegistry()
        registry.register(ModelVersionRecord(name: "m", version: "1.0.0", directory: "/nowhere", manifest: nil, state: .loading))
        let text = collector(registry).render()
        let lines = text.split(separator: "\n")
        var families: [String] = []
        for line in lines where line.hasPrefix("# TYPE ") {
            families.append(String(line.split(separator: " ")[2]))
        }
        #expect(Set(families).count == families.count, "a family declared twice")
        // Each sample belongs to the last family declared before it.
        var current = ""
        for line in lines {
            if line.hasPrefix("# TYPE ") { current = String(line.split(separator: " ")[2]) }
            guard !line.hasPrefix("#") else { continue }
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            #expect(name == current || name.hasPrefix(current + "_"), "\(name) after \(current)'s header")
        }
        #expect(text.contains("modelhost_build_info{version=\"9.9.9\"} 1\n"))
        #expect(text.contains("process_resident_memory_bytes 1024\n"))
        #expect(text.contains("process_cpu_seconds_total 1.5\n"))
        #expect(text.contains("process_open_fds 7\n"))
        #expect(text.contains("modelhost_model_version_ready{model=\"m\",version=\"1.0.0\"} 0\n"))
    }

    @Test func theEdgeCountsAreExposedByLabel() {
        let counters = EdgeCounters()
        counters.edgeRequests.increment("ok", by: 3)
        counters.edgeRequests.increment("unauthenticated")
        counters.authenticationFailures.increment("missing")
        counters.rateLimited.increment("key-model", by: 2)
        counters.modelEvents.record(.loadFailure, model: "broken")
        counters.modelEvents.record(.automaticRollback, model: "m")
        let registry = ModelRegistry()
        registry.register(ModelVersionRecord(name: "m", version: "1.0.0", directory: "/nowhere", manifest: nil, state: .loading))
        let text = collector(registry, counters).render()
        #expect(text.contains("modelhost_edge_requests_total{code=\"ok\"} 3\n"))
        #expect(text.contains("modelhost_edge_requests_total{code=\"unauthenticated\"} 1\n"))
        #expect(text.contains("modelhost_authentication_failures_total{reason=\"missing\"} 1\n"))
        #expect(text.contains("modelhost_rate_limited_total{policy=\"key-model\"} 2\n"))
        #expect(text.contains("modelhost_bundle_load_failures_total{model=\"broken\"} 1\n"))
        #expect(text.contains("modelhost_rollbacks_total{model=\"m\",trigger=\"automatic\"} 1\n"))
        #expect(text.contains("modelhost_rollbacks_total{model=\"m\",trigger=\"operator\"} 0\n"))
    }

    @Test func aFailedVersionIsNotReadyAndHasNoLatency() {
        let registry = ModelRegistry()
        let failure = BundleError(.invalidManifest, bundle: "/nowhere", "bad")
        registry.register(ModelVersionRecord(name: "m", version: "2.0.0", directory: "/nowhere", manifest: nil, state: .failed(failure)))
        let text = collector(registry).render()
        #expect(text.contains("modelhost_model_version_ready{model=\"m\",version=\"2.0.0\"} 0\n"))
        #expect(!text.contains("modelhost_request_duration_seconds_bucket{model=\"m\""))
    }
}
