import Testing

@testable import ModelHostMetrics
@testable import Telemetry

@Suite struct PrometheusTextTests {
    @Test func aFamilyIsItsHeaderThenItsSamples() {
        var text = PrometheusText()
        text.family("modelhost_things_total", .counter, help: "Things.\nMore.")
        text.sample("modelhost_things_total", labels: [("model", "a"), ("code", "ok")], 3)
        text.sample("modelhost_things_total", 0.5)
        #expect(text.text == """
            # HELP modelhost_things_total Things.\\nMore.
            # TYPE modelhost_things_total counter
            modelhost_things_total{model="a",code="ok"} 3
            modelhost_things_total 0.5

            """)
    }

    @Test func labelValuesAreEscaped() {
        #expect(PrometheusText.escapeLabelValue(#"a"b\c"# + "\nd") == #"a\"b\\c\nd"#)
        #expect(PrometheusText.escapeLabelValue("plain") == "plain")
    }

    @Test func valuesAreWrittenAsPrometheusReadsThem() {
        #expect(PrometheusText.format(3) == "3")
        #expect(PrometheusText.format(0.25) == "0.25")
        #expect(PrometheusText.format(.infinity) == "+Inf")
        #expect(PrometheusText.format(-.infinity) == "-Inf")
        #expect(PrometheusText.format(.nan) == "NaN")
    }

    @Test func aHistogramIsCumulativeBucketsThenSumAndCount() {
        var histogram = Histogram(upperBounds: [0.1, 1])
        for value in [0.05, 0.5, 0.7, 3] { histogram.record(value) }
        var text = PrometheusText()
        text.histogram("h_seconds", labels: [("model", "m")], histogram)
        #expect(text.text == """
            h_seconds_bucket{model="m",le="0.1"} 1
            h_seconds_bucket{model="m",le="1"} 3
            h_seconds_bucket{model="m",le="+Inf"} 4
            h_seconds_sum{model="m"} 4.25
            h_seconds_count{model="m"} 4

            """)
    }
}
