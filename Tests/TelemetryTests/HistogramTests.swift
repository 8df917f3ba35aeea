import Testing

@testable import Telemetry

@Suite struct HistogramTests {
    @Test func valuesFallInTheFirstBucketWhoseBoundHoldsThem() {
        var histogram = Histogram(upperBounds: [1, 2, 5])
        for value in [0.5, 1, 1.5, 2, 4.9, 5, 7] { histogram.record(value) }
        #expect(histogram.counts == [2, 2, 2, 1])
        #expect(histogram.cumulativeCounts == [2, 4, 6, 7])
        #expect(histogram.count == 7)
        #expect(histogram.sum == 21.9)
    }

    @Test func durationsAreRecordedInSeconds() {
        var histogram = Histogram(upperBounds: Histogram.latencyBounds)
        histogram.record(Duration.microseconds(300))
        #expect(histogram.counts[2] == 1)
        #expect(abs(histogram.sum - 0.0003) < 1e-12)
    }

    @Test func quantilesInterpolateWithinTheirBucket() {
        var histogram = Histogram(upperBounds: [1, 2, 4])
        for _ in 0..<50 { histogram.record(0.5) }
        for _ in 0..<50 { histogram.record(3) }
        #expect(histogram.quantile(0.5) == 1)
        #expect(histogram.quantile(0.75) == 3)
        #expect(histogram.quantile(1) == 4)
        #expect(Histogram(upperBounds: [1]).quantile(0.5) == nil)
    }

    @Test func mergingAddsCounts() {
        var first = Histogram(upperBounds: [1, 2])
        var second = Histogram(upperBounds: [1, 2])
        first.record(0.5)
        second.record(1.5)
        second.record(9)
        first.merge(second)
        #expect(first.counts == [1, 1, 1])
        #expect(first.count == 3)
    }
}
