import Logging
import Testing

@testable import ModelHostLogging

@Suite struct SecretRedactionTests {
    static let secretNames = [
        "authorization", "Authorization", "AUTHORIZATION", "Proxy-Authorization",
        "x-api-key", "X-API-Key", "api_key", "OPENAI_API_KEY", "apikey", "apiKey", "api-key", "Api-Key",
        "password", "db_Password", "PASSWORD", "token", "accessToken", "refresh_TOKEN",
        "secret", "clientSecret", "SECRET", "cookie", "Set-Cookie", "COOKIE",
    ]

    static let plainNames = [
        "model", "version", "status", "tok", "key", "keyID", "api", "pass", "auth", "", "author", "cake", "tokn", "secre",
    ]

    /// A value that must never reach a line.
    static let secretValue = "s3cr3t-value-9f8e7d"

    @Test(arguments: secretNames)
    func secretLookingNamesAreSecretInAnyCase(name: String) {
        #expect(SecretRedaction.isSecret(name))
    }

    @Test(arguments: plainNames)
    func otherNamesAreNot(name: String) {
        #expect(!SecretRedaction.isSecret(name))
    }

    @Test func redactReplacesSecretValuesOfEveryTypeAtEveryDepth() {
        let metadata: Logger.Metadata = [
            "model": "echo",
            "Authorization": .string(Self.secretValue),
            "token": .stringConvertible(12345),
            "password": ["nested": .string(Self.secretValue)],
            "request": [
                "headers": [
                    ["name": "accept", "X-Api-Key": .string(Self.secretValue)],
                    [["cookie": .string(Self.secretValue)]],
                    .string("not a secret"),
                ],
                "secret": [.string(Self.secretValue)],
                "size": .stringConvertible(3),
            ],
        ]
        let redacted = SecretRedaction.redact(metadata)
        let placeholder = Logger.Metadata.Value.string(SecretRedaction.placeholder)
        #expect(redacted["model"] == "echo")
        #expect(redacted["Authorization"] == placeholder)
        #expect(redacted["token"] == placeholder)
        #expect(redacted["password"] == placeholder)
        guard case .dictionary(let request)? = redacted["request"], case .array(let headers)? = request["headers"] else {
            Issue.record("request.headers lost its shape: \(String(describing: redacted["request"]))")
            return
        }
        #expect(request["secret"] == placeholder)
        #expect(request["size"]?.description == "3")
        #expect(headers[0] == ["name": "accept", "X-Api-Key": placeholder])
        #expect(headers[1] == [["cookie": placeholder]])
        #expect(headers[2] == "not a secret")
        #expect(!"\(redacted)".contains(Self.secretValue))
    }

    @Test func redactKeepsMetadataWithoutSecrets() {
        let metadata: Logger.Metadata = ["model": "echo", "nested": ["a": ["b"]]]
        #expect(SecretRedaction.redact(metadata) == metadata)
    }

    @Test(arguments: secretNames)
    func secretValuesNeverReachAJSONLine(name: String) throws {
        let collector = LineCollector()
        var logger = Logger.json(collector)
        logger[metadataKey: name] = .string(Self.secretValue)
        logger.info("call", metadata: [
            name: .stringConvertible(Self.secretValue),
            "nested": [name: .string(Self.secretValue), "list": [[name: [.string(Self.secretValue)]]]],
        ])
        let line = try collector.onlyLine()
        #expect(!line.contains(Self.secretValue))
        let object = try LineCollector.parse(line)
        #expect(object[name] as? String == SecretRedaction.placeholder)
        let nested = try #require(object["nested"] as? [String: Any])
        #expect(nested[name] as? String == SecretRedaction.placeholder)
        let list = try #require(nested["list"] as? [Any])
        let element = try #require(list.first as? [String: Any])
        #expect(element[name] as? String == SecretRedaction.placeholder)
    }

    @Test(arguments: secretNames)
    func secretValuesNeverReachATextLine(name: String) throws {
        let collector = LineCollector()
        let provider = Logger.MetadataProvider { [name: .string(Self.secretValue)] }
        Logger.text(collector, metadataProvider: provider).info("call", metadata: [
            "nested": [name: .string(Self.secretValue), "list": [[name: .string(Self.secretValue)]]],
        ])
        let line = try collector.onlyLine()
        #expect(!line.contains(Self.secretValue))
        #expect(line.contains("\(name)=\(SecretRedaction.placeholder)"))
    }
}
