import Foundation
import Testing

@testable import Telemetry

@Suite struct PopulationStabilityTests {
    @Test func identicalDistributionsHaveNoShift() {
        #expect(PopulationStability.index(reference: [0.2, 0.3, 0.5], recent: [0.2, 0.3, 0.5]) == 0)
        // Counts are normalised: 20/30/50 of 100 is the same distribution as 2/3/5 of 10.
        #expect(abs(PopulationStability.index(reference: [20, 30, 50], recent: [2, 3, 5])) < 1e-15)
    }

    @Test func aHandComputedCaseIsExact() {
        // (0.8 - 0.5) ln(0.8 / 0.5) + (0.2 - 0.5) ln(0.2 / 0.5) = 0.3 (ln 1.6 - ln 0.4) = 0.3 ln 4
        let expected = 0.3 * log(4.0)
        #expect(abs(expected - 0.415_888_308_335_967_2) < 1e-15)
        #expect(abs(PopulationStability.index(reference: [50, 50], recent: [8, 2]) - expected) < 1e-12)
    }

    @Test func theIndexIsSymmetricAndGrowsWithTheShift() {
        let reference = [0.25, 0.25, 0.25, 0.25]
        let small = [0.3, 0.25, 0.25, 0.2]
        let large = [0.55, 0.25, 0.15, 0.05]
        let smallShift = PopulationStability.index(reference: reference, recent: small)
        #expect(smallShift > 0 && smallShift < 0.1)
        #expect(PopulationStability.index(reference: reference, recent: large) > 0.25)
        #expect(abs(PopulationStability.index(reference: small, recent: reference) - smallShift) < 1e-15)
    }

    @Test func anEmptyBinCountsAsEpsilonSoTheIndexStaysFinite() {
        // The reference never saw bin 1: e = (1, 1e-4), a = (0.5, 0.5).
        let epsilon = PopulationStability.epsilon
        let expected = (0.5 - 1) * log(0.5 / 1) + (0.5 - epsilon) * log(0.5 / epsilon)
        let psi = PopulationStability.index(reference: [10, 0], recent: [5, 5])
        #expect(psi.isFinite)
        #expect(abs(psi - expected) < 1e-12)
        // A bin empty on both sides adds nothing.
        #expect(PopulationStability.index(reference: [1, 1, 0], recent: [1, 1, 0]) == 0)
    }

    @Test func anEmptySideGivesZero() {
        #expect(PopulationStability.index(reference: [0, 0], recent: [3, 1]) == 0)
        #expect(PopulationStability.index(reference: [0.5, 0.5], recent: [0, 0]) == 0)
    }
}
