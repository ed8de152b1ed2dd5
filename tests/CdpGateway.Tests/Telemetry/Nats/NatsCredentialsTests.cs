using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using CdpGateway.Telemetry.Nats;
using NATS.Client.Core;
using NATS.NKeys;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>The credentials part of the publishing connection's CONNECT, as <see cref="NatsCredentials.Write"/> writes it.</summary>
public sealed class NatsCredentialsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cdpgw-nats-credentials-" + Guid.NewGuid().ToString("N"));

    private static NatsSinkOptions Options(string url, string? token = null, string? user = null, string? password = null, string? creds = null) => new()
    {
        Url = url,
        Token = token,
        User = user,
        Password = password,
        CredsFile = creds,
        SpoolDirectory = "/nonexistent",
    };

    /// <summary>The fields Write adds to a CONNECT object, by name.</summary>
    private static Dictionary<string, string> Connect(NatsSinkOptions options, string? nonce = null)
    {
        var json = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            NatsCredentials.Write(writer, options, new Uri(options.Url), nonce);
            writer.WriteEndObject();
        }
        using var doc = JsonDocument.Parse(json.WrittenMemory);
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
    }

    [Fact]
    public void NoCredentials_AddNothing() => Assert.Empty(Connect(Options("nats://127.0.0.1:4222")));

    [Fact]
    public void TokenOption_IsTheAuthToken()
    {
        var fields = Connect(Options("nats://127.0.0.1:4222", token: "s3cret"));
        Assert.Equal(new Dictionary<string, string> { ["auth_token"] = "s3cret" }, fields);
    }

    [Fact]
    public void UserAndPasswordOptions_AreUserAndPass()
    {
        var fields = Connect(Options("nats://127.0.0.1:4222", user: "gateway", password: "pa:ss@word"));
        Assert.Equal(new Dictionary<string, string> { ["user"] = "gateway", ["pass"] = "pa:ss@word" }, fields);
    }

    [Fact]
    public void UrlWithATokenOnly_GivesTheAuthToken()
    {
        var fields = Connect(Options("nats://tok3n@127.0.0.1:4222"));
        Assert.Equal(new Dictionary<string, string> { ["auth_token"] = "tok3n" }, fields);
    }

    [Fact]
    public void UrlWithUserAndPassword_GivesThemUnescaped()
    {
        var fields = Connect(Options("nats://gate%40way:p%3Ass%40w@127.0.0.1:4222"));
        Assert.Equal(new Dictionary<string, string> { ["user"] = "gate@way", ["pass"] = "p:ss@w" }, fields);
    }

    [Fact]
    public void UrlUserInfo_IsIgnoredWhenATokenOptionIsGiven()
    {
        var fields = Connect(Options("nats://u:p@127.0.0.1:4222", token: "from-option"));
        Assert.Equal(new Dictionary<string, string> { ["auth_token"] = "from-option" }, fields);
    }

    [Fact]
    public void UrlUserInfo_IsIgnoredWhenAUserOptionIsGiven()
    {
        var fields = Connect(Options("nats://url-token@127.0.0.1:4222", user: "gateway", password: "pw"));
        Assert.Equal(new Dictionary<string, string> { ["user"] = "gateway", ["pass"] = "pw" }, fields);
    }

    [Fact]
    public void UrlUserInfo_IsIgnoredWhenACredsFileIsGiven()
    {
        using var user = KeyPair.CreatePair(PrefixByte.User);
        var fields = Connect(Options("nats://u:p@127.0.0.1:4222", creds: CredsFiles.Write(_dir, user)), nonce: "abc");
        Assert.Equal(["jwt", "nkey", "sig"], fields.Keys.Order().ToArray());
    }

    [Fact]
    public void CredsFile_GivesItsJwtItsPublicKeyAndTheNonceSignedWithItsSeed()
    {
        using var user = KeyPair.CreatePair(PrefixByte.User);
        const string nonce = "o9Gq0AbFNd3aQ5Y";
        var fields = Connect(Options("nats://127.0.0.1:4222", creds: CredsFiles.Write(_dir, user)), nonce);

        Assert.Equal(["jwt", "nkey", "sig"], fields.Keys.Order().ToArray());
        Assert.Equal(CredsFiles.PlaceholderJwt(user.GetPublicKey()), fields["jwt"]);
        Assert.Equal(user.GetPublicKey(), fields["nkey"]);
        using var key = KeyPair.FromPublicKey(fields["nkey"]);
        Assert.True(key.Verify(Encoding.UTF8.GetBytes(nonce), Base64Url.DecodeFromChars(fields["sig"])));
        Assert.False(key.Verify(Encoding.UTF8.GetBytes(nonce + "x"), Base64Url.DecodeFromChars(fields["sig"])));
        Assert.DoesNotContain(fields.Values, v => v.Contains(user.GetSeed(), StringComparison.Ordinal));
    }

    [Fact]
    public void CredsFileWithoutANonce_GivesNoSignature()
    {
        using var user = KeyPair.CreatePair(PrefixByte.User);
        var fields = Connect(Options("nats://127.0.0.1:4222", creds: CredsFiles.Write(_dir, user)));
        Assert.Equal(["jwt", "nkey"], fields.Keys.Order().ToArray());
    }

    [Fact]
    public void CredsFileWithoutASeed_IsRefusedSayingWhatIsMissing()
    {
        Directory.CreateDirectory(_dir);
        var path = Path.Combine(_dir, "jwt-only.creds");
        File.WriteAllText(path, "-----BEGIN NATS USER JWT-----\neyJhIjoiYiJ9.eyJjIjoiZCJ9.c2ln\n------END NATS USER JWT------\n");
        var refused = Assert.Throws<NatsException>(() => Connect(Options("nats://127.0.0.1:4222", creds: path), "abc"));
        Assert.Equal("The NATS credentials file holds no user JWT and NKey seed", refused.Message);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
