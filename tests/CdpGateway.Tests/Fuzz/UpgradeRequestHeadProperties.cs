using System.Text;
using CdpGateway.Proxy.Transport;
using CsCheck;

namespace CdpGateway.Tests.Fuzz;

public class UpgradeRequestHeadProperties
{
    private enum Mutation
    {
        None,
        DropRequired,
        Duplicate,
        NameCase,
        Padding,
        BodyFraming,
        Method,
        Version,
        ControlByte,
        HighByte,
        ShortKey,
        DotSegment,
        CutShort,
        FoldedLine,
    }

    private static readonly string[] Required = ["Host", "Upgrade", "Connection", "Sec-WebSocket-Version", "Sec-WebSocket-Key"];

    private sealed record Head(string Path, string? Query, string Key, string Host, List<(string Name, string Value)> Headers, Mutation Mutation,
        string Method, string Version)
    {
        public byte[] Bytes()
        {
            var text = new StringBuilder($"{Method} {Path}{(Query is null ? "" : "?" + Query)} {Version}\r\n");
            foreach (var (name, value) in Headers)
            {
                text.Append(name).Append(':').Append(value).Append("\r\n");
            }
            text.Append("\r\n");
            return Encoding.Latin1.GetBytes(text.ToString());
        }
    }

    // Led by a letter: a segment starting with a dot is the DotSegment mutation's to make.
    private static readonly Gen<string> Segment = Gen.Char["abcXYZ019-._~"].Array[0, 12].Select(c => "p" + new string(c));

    private static readonly Gen<Head> Heads =
        Gen.Select(Segment.Array[1, 4], Gen.Char["abc=&%19"].Array[0, 10].Select(c => new string(c)).Null(), Gen.Byte.Array[16, 16],
            Gen.OneOf(Gen.Const("127.0.0.1:9222"), Gen.Const("localhost"), Gen.Const("[::1]:9222"), Gen.Const("gateway.example")),
            Gen.Int[0, 13].Select(i => (Mutation)i), Gen.Int, Gen.Int[0, 3])
        .Select((segments, query, key, host, mutation, pick, extra) =>
        {
            var headers = new List<(string Name, string Value)>
            {
                ("Host", " " + host),
                ("Upgrade", " websocket"),
                ("Connection", extra == 0 ? " Upgrade" : " keep-alive, Upgrade"),
                ("Sec-WebSocket-Version", " 13"),
                ("Sec-WebSocket-Key", " " + Convert.ToBase64String(key)),
            };
            var optional = new (string, string)[] { ("Origin", " http://localhost"), ("User-Agent", " fuzz"), ("Authorization", " Bearer t"), ("Sec-Fetch-Site", " same-origin"), ("X-Forwarded-Host", " h") };
            for (int i = 0; i < extra; i++)
            {
                headers.Add(optional[((uint)pick >> i) % optional.Length]);
            }
            headers = headers.DistinctBy(h => h.Name).ToList();
            // Order carries no meaning: shuffled by the drawn number.
            headers = headers.OrderBy(h => (h.Name.GetHashCode() ^ pick) & 0xFFFF).ToList();
            int at = (int)((uint)pick % (uint)headers.Count);
            string path = "/devtools/" + string.Join('/', segments);
            string method = "GET", version = "HTTP/1.1";
            switch (mutation)
            {
                case Mutation.DropRequired:
                    headers.RemoveAll(h => h.Name == Required[(uint)pick % Required.Length]);
                    break;
                case Mutation.Duplicate:
                    // Only the headers the reader reads must come once; any other may repeat.
                    headers.Insert((int)((uint)pick % (uint)headers.Count), headers[at].Name == "User-Agent" ? headers.Single(h => h.Name == "Host") : headers[at]);
                    break;
                case Mutation.NameCase:
                    headers = headers.Select((h, i) => (((pick >> i) & 1) == 0 ? h.Name.ToUpperInvariant() : h.Name.ToLowerInvariant(), h.Value)).ToList();
                    break;
                case Mutation.Padding:
                    headers = headers.Select(h => (h.Name, "\t " + h.Value.Trim() + " \t")).ToList();
                    break;
                case Mutation.BodyFraming:
                    headers.Insert(at, (pick & 1) == 0 ? ("Content-Length", " 0") : ("Transfer-Encoding", " chunked"));
                    break;
                case Mutation.Method:
                    method = new[] { "POST", "get", "HEAD", "GET " }[(uint)pick % 4];
                    break;
                case Mutation.Version:
                    version = new[] { "HTTP/1.0", "HTTP/2", "http/1.1", "HTTP/1.1 " }[(uint)pick % 4];
                    break;
                case Mutation.ControlByte:
                    headers[at] = (headers[at].Name, headers[at].Value + (char)((uint)pick % 0x20 is var c && c is 9 or 13 or 10 ? 1 : (uint)pick % 0x20));
                    break;
                case Mutation.HighByte:
                    headers[at] = (headers[at].Name, headers[at].Value + (char)(0x7F + (uint)pick % 0x81));
                    break;
                case Mutation.ShortKey:
                    headers[headers.FindIndex(h => h.Name == "Sec-WebSocket-Key")] = ("Sec-WebSocket-Key", " " + Convert.ToBase64String(key[..(1 + (int)((uint)pick % 15))]));
                    break;
                case Mutation.DotSegment:
                    path += (pick & 1) == 0 ? "/../x" : "/./x";
                    break;
                case Mutation.FoldedLine:
                    headers.Insert(at + 1, ("", " folded"));
                    break;
            }
            return new Head(path, query, Convert.ToBase64String(key), host, headers, mutation, method, version);
        });

    private static UpgradeRequestHeadStatus Expected(Head head) => head.Mutation switch
    {
        Mutation.None or Mutation.NameCase or Mutation.Padding => UpgradeRequestHeadStatus.Upgrade,
        Mutation.CutShort => UpgradeRequestHeadStatus.Incomplete,
        _ => UpgradeRequestHeadStatus.ForKestrel,
    };

    /// <summary>What must hold of any head the reader takes, checked from the raw bytes alone.</summary>
    private static void AcceptedOnlyWhatTheReferenceAccepts(byte[] bytes, in UpgradeRequestHead head)
    {
        Assert.InRange(head.Length, 4, Math.Min(bytes.Length, UpgradeRequestHead.MaxBytes));
        Assert.True(bytes.AsSpan(0, head.Length).EndsWith("\r\n\r\n"u8));
        Assert.Equal(head.Length - 4, bytes.AsSpan().IndexOf("\r\n\r\n"u8));
        var lines = Encoding.Latin1.GetString(bytes, 0, head.Length - 4).Split("\r\n");
        Assert.StartsWith("GET /devtools/", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(" HTTP/1.1", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("/.", lines[0].Split('?')[0], StringComparison.Ordinal);
        Assert.All(lines, line => Assert.All(line, c => Assert.True(c is '\t' or (>= ' ' and < '\x7F'))));
        var names = lines.Skip(1).Select(line => line[..line.IndexOf(':')].ToLowerInvariant()).ToList();
        foreach (var name in Required)
        {
            Assert.Single(names, name.ToLowerInvariant());
        }
        Assert.DoesNotContain("content-length", names);
        Assert.DoesNotContain("transfer-encoding", names);
        Assert.Equal(16, Convert.FromBase64String(head.Key).Length);
        Assert.Equal(lines[0]["GET ".Length..^" HTTP/1.1".Length], head.Path + (head.Query is null ? "" : "?" + head.Query));
    }

    [Fact]
    public void MutatedUpgradeHeadsAreTakenExactlyWhenTheReferenceTakesThem() =>
        Heads.Sample(head =>
        {
            var bytes = head.Bytes();
            if (head.Mutation == Mutation.CutShort)
            {
                bytes = bytes[..^(1 + bytes.Length % 3)];
            }
            var status = UpgradeRequestHead.TryRead(bytes, out var read);
            Assert.Equal(Expected(head), status);
            if (status == UpgradeRequestHeadStatus.Upgrade)
            {
                AcceptedOnlyWhatTheReferenceAccepts(bytes, read);
                Assert.Equal((head.Path, head.Query, head.Key, head.Host), (read.Path, read.Query, read.Key, read.Host));
            }
        }, iter: FuzzRuns.Iterations, print: head => Encoding.Latin1.GetString(head.Bytes()));

    [Fact]
    public void BytesAfterAHeadLeaveItsLengthAtTheBlankLine() =>
        Gen.Select(Heads, Gen.Byte.Array[0, 64]).Sample((head, tail) =>
        {
            var bytes = head.Bytes().Concat(tail).ToArray();
            if (UpgradeRequestHead.TryRead(bytes, out var read) == UpgradeRequestHeadStatus.Upgrade)
            {
                AcceptedOnlyWhatTheReferenceAccepts(bytes, read);
            }
        }, iter: FuzzRuns.FewIterations);

    private static readonly byte[] Alphabet = "\r\n:, /?GETHTPdevtools1.3websocketupgradeHostKey=\t"u8.ToArray();

    /// <summary>Bytes drawn mostly from the request's own alphabet, so the reader gets past its first checks.</summary>
    private static readonly Gen<byte[]> HeadLikeBytes =
        Gen.OneOf(Gen.Byte, Gen.Int[0, Alphabet.Length - 1].Select(i => Alphabet[i]))
            .Array[0, 300]
            .Select(body => "GET /devtools/"u8.ToArray().Concat(body).ToArray());

    [Fact]
    public void AnyBytesGiveASaneStatusAndNeverMoreThanTheInput() =>
        Gen.OneOf(Gen.Byte.Array[0, 400], HeadLikeBytes).Sample(bytes =>
        {
            var status = UpgradeRequestHead.TryRead(bytes, out var read);
            bool blank = bytes.AsSpan().IndexOf("\r\n\r\n"u8) >= 0;
            Assert.Equal(!blank, status == UpgradeRequestHeadStatus.Incomplete);
            if (status == UpgradeRequestHeadStatus.Upgrade)
            {
                AcceptedOnlyWhatTheReferenceAccepts(bytes, read);
            }
        }, iter: FuzzRuns.Iterations);

    [Fact]
    public void AHeadPastTheLimitIsKestrelsWithOrWithoutItsBlankLine()
    {
        var filler = Enumerable.Repeat((byte)'a', UpgradeRequestHead.MaxBytes).ToArray();
        Assert.Equal(UpgradeRequestHeadStatus.ForKestrel, UpgradeRequestHead.TryRead(filler, out _));
        Assert.Equal(UpgradeRequestHeadStatus.ForKestrel, UpgradeRequestHead.TryRead([.. filler, .. "\r\n\r\n"u8], out _));
    }
}
