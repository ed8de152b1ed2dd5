using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>
/// A throw-away certificate authority made for one test, in PEM files under <see cref="Directory"/>: the authority's
/// own certificate (what <c>--nats-ca</c> points at) and a server certificate for 127.0.0.1 and localhost that it
/// signed (what <c>nats-server --tlscert/--tlskey</c> serve). No system store ever trusts it.
/// </summary>
internal sealed class TestCertificateAuthority : IDisposable
{
    private TestCertificateAuthority(string directory) => Directory = directory;

    public string Directory { get; }

    public string CaFile => Path.Combine(Directory, "ca.pem");

    public string ServerCertFile => Path.Combine(Directory, "server.pem");

    public string ServerKeyFile => Path.Combine(Directory, "server-key.pem");

    /// <summary>The nats-server options that serve this authority's server certificate.</summary>
    public string[] ServerTlsArgs => ["--tls", "--tlscert", ServerCertFile, "--tlskey", ServerKeyFile];

    /// <summary>A new authority; <paramref name="serverNamesLoopbackAddress"/> false leaves 127.0.0.1 out of the server certificate (localhost only).</summary>
    public static TestCertificateAuthority Create(string name, bool serverNamesLoopbackAddress = true)
    {
        var directory = Path.Combine(Path.GetTempPath(), "cdpgw-ca-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var authority = new TestCertificateAuthority(directory);
        var now = DateTimeOffset.UtcNow;

        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=" + name, caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=nats test server", serverKey, HashAlgorithmName.SHA256);
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        serverRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var names = new SubjectAlternativeNameBuilder();
        if (serverNamesLoopbackAddress)
        {
            names.AddIpAddress(IPAddress.Loopback);
        }
        names.AddDnsName("localhost");
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var server = serverRequest.Create(ca, now.AddMinutes(-5), now.AddDays(1), RandomNumberGenerator.GetBytes(8));

        File.WriteAllText(authority.CaFile, ca.ExportCertificatePem());
        File.WriteAllText(authority.ServerCertFile, server.ExportCertificatePem());
        File.WriteAllText(authority.ServerKeyFile, serverKey.ExportPkcs8PrivateKeyPem());
        return authority;
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
