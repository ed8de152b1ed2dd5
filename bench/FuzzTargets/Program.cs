using System.Text.Json;
using CdpGateway.Api;
using CdpGateway.Proxy;
using CdpGateway.Proxy.Transport;
using CdpGateway.Telemetry.Commands;
using Microsoft.AspNetCore.Http;
using SharpFuzz;

// One afl-fuzz target per parser of untrusted bytes. Any exception that escapes is a finding: none of these
// parsers documents one for bad input.
var targets = new Dictionary<string, Action<byte[]>>
{
    ["upgrade-head"] = bytes => UpgradeRequestHead.TryRead(bytes, out _),
    ["frame"] = bytes => FrameHeader.TryRead(bytes, out _),
    ["close"] = bytes => CloseFrame.TryRead(bytes, out _, out _),
    ["classifier"] = Classify,
    ["json-body"] = ReadBody,
};

if (args.Length != 1 || !targets.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: Fuzz TARGET (one of: {string.Join(", ", targets.Keys)}); reads inputs from afl-fuzz");
    return 2;
}

Fuzzer.OutOfProcess.Run(stream =>
{
    using var copy = new MemoryStream();
    stream.CopyTo(copy);
    target(copy.ToArray());
});
return 0;

static void Classify(byte[] bytes)
{
    var method = CdpCommandClassifier.TryReadMethod(bytes, out var named) ? named : CdpMethod.PageNavigate;
    CdpCommandClassifier.Classify(bytes, method, "fuzz");
    // Both readers of params see every input: the one-pass one above, the document one here.
    CdpCommandClassifier.UseDocumentPath = true;
    try
    {
        CdpCommandClassifier.Classify(bytes, method, "fuzz");
    }
    finally
    {
        CdpCommandClassifier.UseDocumentPath = false;
    }
}

static void ReadBody(byte[] bytes)
{
    var context = new DefaultHttpContext();
    context.Request.Body = new MemoryStream(bytes);
    context.Request.ContentLength = bytes.Length;
    JsonBody.ReadAsync(context.Request, root => root.ValueKind, "{}", CancellationToken.None).GetAwaiter().GetResult();
}
