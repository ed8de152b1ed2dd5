using System.Buffers;
using System.Buffers.Text;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using NATS.Client.Core;

namespace CdpGateway.Telemetry.Nats;

/// <summary>
/// The NATS sink's own connection for publishing to JetStream: each publish carries its <c>Nats-Msg-Id</c> and a reply
/// subject <c>_INBOX.TOKEN.N</c> under one subscription, a whole window of publishes leaves in one socket write, and the
/// acks of one socket read are handed over at once (<see cref="TakeAcks"/>) with one wake-up. A broken connection is
/// never reconnected here: it closes (<see cref="ClosedReason"/>), and the sink resends what was not acknowledged on a
/// new one, so nothing written to a dead connection is carried over behind a gap.
/// </summary>
/// <remarks>
/// Hand-written rather than the NATS client's publish path, which costs several thread hand-offs and allocations per
/// message (its reply subscription per publish, its writer loop woken per publish): bench/README.md, "Telemetry with the
/// NATS sink on". The client library still does the rest (finding or creating the stream).
/// </remarks>
public sealed class NatsPublishConnection : IAsyncDisposable
{
    private const int MaxLineBytes = 64 * 1024;
    private const int MaxInboundMessageBytes = 1024 * 1024;
    private const int ReadBufferBytes = 64 * 1024;

    private readonly Socket _socket;
    private readonly Action<long> _onActivity;
    private readonly byte[] _inboxPrefix;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ArrayBufferWriter<byte> _pending = new(64 * 1024);
    private readonly Lock _ackLock = new();
    private readonly CancellationTokenSource _closing = new();
    private Stream _stream;
    private List<NatsPubAck> _acks = [];
    private List<NatsPubAck> _taken = [];

    // The reader's alone: the acks of the socket read at hand, handed over under _ackLock once per read (a lock taken per
    // ack met the publisher's TakeAcks often enough that waking each other cost more than reading the acks).
    private readonly List<NatsPubAck> _read = [];
    private byte[] _buffer = new byte[ReadBufferBytes];
    private int _start;
    private int _end;
    private int _pongs;
    private string? _fatal;
    private string? _closedReason;
    private Task _reader = Task.CompletedTask;

    private NatsPublishConnection(Socket socket, string server, Action<long> onActivity)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        Server = server;
        _onActivity = onActivity;
        _inboxPrefix = Encoding.ASCII.GetBytes("_INBOX." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(11)) + ".");
    }

    /// <summary>The server this connection went to (<c>host:port</c>), without any credentials.</summary>
    public string Server { get; }

    /// <summary>The largest message the server takes (its INFO's <c>max_payload</c>).</summary>
    public long MaxPayload { get; private set; } = 1024 * 1024;

    /// <summary>Null while open; once closed, why (the server's or the socket's words, never a credential).</summary>
    public string? ClosedReason => Volatile.Read(ref _closedReason);

    public bool IsOpen => ClosedReason is null;

    /// <summary>The last <c>-ERR</c> the server sent that did not close the connection (a permissions violation).</summary>
    public string? LastServerError { get; private set; }

    /// <summary>
    /// What one event's publish counts against the server's <c>max_payload</c>: the header block with its message id
    /// (<c>NATS/1.0\r\nNats-Msg-Id: ID\r\n\r\n</c>) and the envelope.
    /// </summary>
    public static int MessageBytes(NatsSpoolRecord record) => HeaderBytes(record) + record.Payload.Length;

    private static int HeaderBytes(NatsSpoolRecord record) => "NATS/1.0\r\nNats-Msg-Id: "u8.Length + Encoding.UTF8.GetByteCount(record.MsgId) + 4;

    /// <summary>
    /// Connects to the first server of <paramref name="urls"/> (tried from <paramref name="first"/> on, round the list)
    /// that lets the gateway in. <paramref name="onActivity"/> is called after a socket read brought acks, with the
    /// highest ack id among them, and with <see cref="long.MaxValue"/> when the connection closes.
    /// </summary>
    public static async Task<NatsPublishConnection> OpenAsync(NatsSinkOptions options, string clientName, int first, Action<long> onActivity,
        CancellationToken cancellationToken)
    {
        var urls = options.Url.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Exception? last = null;
        for (int i = 0; i < urls.Length; i++)
        {
            var url = urls[(first + i) % urls.Length];
            try
            {
                return await OpenOneAsync(options, url, clientName, onActivity, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                last = ex;
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        throw last ?? new NatsException("No NATS server URL given");
    }

    private static async Task<NatsPublishConnection> OpenOneAsync(NatsSinkOptions options, string url, string clientName, Action<long> onActivity,
        CancellationToken cancellationToken)
    {
        var target = new Uri(url.Contains("://", StringComparison.Ordinal) ? url : "nats://" + url);
        int port = target.IsDefaultPort || target.Port <= 0 ? 4222 : target.Port;
        string host = target.IdnHost;
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        NatsPublishConnection? connection = null;
        try
        {
            await socket.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
            connection = new NatsPublishConnection(socket, host + ":" + port, onActivity);
            var info = await connection.ReadInfoAsync(cancellationToken).ConfigureAwait(false);
            bool tls = options.UsesTls || info.TlsRequired;
            if (tls)
            {
                await connection.StartTlsAsync(host, options.CaFile, cancellationToken).ConfigureAwait(false);
            }
            var connect = ConnectCommand(options, target, clientName, tls, info.Nonce);
            await connection.WriteRawAsync(connect, cancellationToken).ConfigureAwait(false);
            await connection.AwaitPongAsync(cancellationToken).ConfigureAwait(false);
            var subscribe = Encoding.ASCII.GetBytes("SUB " + Encoding.ASCII.GetString(connection._inboxPrefix) + "* 1\r\n");
            await connection.WriteRawAsync(subscribe, cancellationToken).ConfigureAwait(false);
            connection.MaxPayload = info.MaxPayload > 0 ? info.MaxPayload : connection.MaxPayload;
            connection._reader = Task.Run(connection.ReadLoopAsync, CancellationToken.None);
            return connection;
        }
        catch
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                socket.Dispose();
            }
            throw;
        }
    }

    private readonly record struct ServerInfo(long MaxPayload, bool TlsRequired, string? Nonce);

    private async Task<ServerInfo> ReadInfoAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int eol = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
            if (eol >= 0)
            {
                var line = _buffer.AsSpan(_start, eol);
                _start += eol + 2;
                if (!line.StartsWith("INFO "u8))
                {
                    throw new NatsException("The server at " + Server + " did not greet as a NATS server");
                }
                return ParseInfo(line[5..]);
            }
            if (_end - _start >= MaxLineBytes)
            {
                throw new NatsException("The server at " + Server + " sent an INFO line longer than " + MaxLineBytes + " bytes");
            }
            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static ServerInfo ParseInfo(ReadOnlySpan<byte> json)
    {
        long maxPayload = 0;
        bool tls = false;
        string? nonce = null;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("max_payload"u8) && reader.Read() && reader.TokenType == JsonTokenType.Number)
                    {
                        maxPayload = reader.GetInt64();
                    }
                    else if (reader.ValueTextEquals("tls_required"u8) && reader.Read())
                    {
                        tls = reader.TokenType == JsonTokenType.True;
                    }
                    else if (reader.ValueTextEquals("nonce"u8) && reader.Read() && reader.TokenType == JsonTokenType.String)
                    {
                        nonce = reader.GetString();
                    }
                    else
                    {
                        reader.Read();
                        reader.Skip();
                    }
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            throw new NatsException("The server's INFO is not JSON the gateway can read");
        }
        return new ServerInfo(maxPayload, tls, nonce);
    }

    private async Task StartTlsAsync(string host, string? caFile, CancellationToken cancellationToken)
    {
        X509Certificate2Collection? authorities = null;
        if (caFile is { Length: > 0 })
        {
            authorities = [];
            authorities.ImportFromPemFile(caFile);
        }
        var refusal = SslPolicyErrors.None;
        var tls = new SslStream(_stream, leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = host,
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    bool trusted = Trusted(certificate, errors, authorities);
                    refusal = trusted ? SslPolicyErrors.None : errors;
                    return trusted;
                },
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (AuthenticationException ex) when (refusal != SslPolicyErrors.None)
        {
            // The TLS layer only says the callback refused; the operator needs to know which check failed.
            throw new NatsException("TLS to " + Server + " refused: " + Untrusted(refusal, host, authorities is not null), ex);
        }
        _stream = tls;
    }

    private static string Untrusted(SslPolicyErrors errors, string host, bool withAuthorities) =>
        (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0 ? "the server sent no certificate"
        : (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0 ? "the server's certificate is not for " + host
        : withAuthorities ? "the server's certificate is not signed by the --nats-ca authority"
        : "the server's certificate is not trusted by the system (--nats-ca names the authority that signed it)";

    /// <summary>Trusted by the system, or (with <c>--nats-ca</c>) by a chain that ends in one of the given authorities.</summary>
    private static bool Trusted(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2Collection? authorities)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }
        if (authorities is null || certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }

    /// <summary>CONNECT (headers and "no responders" on, so a subject no stream takes is answered at once) and a PING.</summary>
    private static byte[] ConnectCommand(NatsSinkOptions options, Uri target, string clientName, bool tls, string? nonce)
    {
        var json = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            writer.WriteBoolean("verbose", false);
            writer.WriteBoolean("pedantic", false);
            writer.WriteBoolean("tls_required", tls);
            writer.WriteString("name", clientName);
            writer.WriteString("lang", "cdp-gateway");
            writer.WriteString("version", "1");
            writer.WriteNumber("protocol", 1);
            writer.WriteBoolean("headers", true);
            writer.WriteBoolean("no_responders", true);
            NatsCredentials.Write(writer, options, target, nonce);
            writer.WriteEndObject();
        }
        var bytes = new byte[8 + json.WrittenCount + 8];
        "CONNECT "u8.CopyTo(bytes);
        json.WrittenSpan.CopyTo(bytes.AsSpan(8));
        "\r\nPING\r\n"u8.CopyTo(bytes.AsSpan(8 + json.WrittenCount));
        return bytes;
    }

    private async Task AwaitPongAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Process(out _);
            if (_fatal is { } refused)
            {
                throw new NatsException("NATS refused the connection: " + refused);
            }
            if (_pongs > 0)
            {
                return;
            }
            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads more into the buffer (making room first); throws when the server closed the connection.</summary>
    private async Task FillAsync(CancellationToken cancellationToken)
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_end == _buffer.Length && _start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= MaxInboundMessageBytes + MaxLineBytes)
            {
                throw new NatsException("The server sent a message larger than " + MaxInboundMessageBytes + " bytes");
            }
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
        int read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            throw new NatsException("The NATS server closed the connection");
        }
        _end += read;
    }

    /// <summary>
    /// Adds one publish to the bytes the next <see cref="FlushAsync"/> writes: <c>HPUB subject reply hdr total</c>, the
    /// header block with the message id, the envelope. Called by one thread (the sink's publisher) only.
    /// </summary>
    public void Add(NatsSpoolRecord record, long ackId)
    {
        int subjectBytes = Encoding.UTF8.GetByteCount(record.Subject);
        int headerBytes = HeaderBytes(record);
        int totalBytes = headerBytes + record.Payload.Length;
        var span = _pending.GetSpan(5 + subjectBytes + 1 + _inboxPrefix.Length + 20 + 1 + 11 + 1 + 11 + 2 + totalBytes + 2);
        int at = 0;
        at += Put(span[at..], "HPUB "u8);
        at += Encoding.UTF8.GetBytes(record.Subject, span[at..]);
        span[at++] = (byte)' ';
        at += Put(span[at..], _inboxPrefix);
        at += Number(span[at..], ackId);
        span[at++] = (byte)' ';
        at += Number(span[at..], headerBytes);
        span[at++] = (byte)' ';
        at += Number(span[at..], totalBytes);
        at += Put(span[at..], "\r\nNATS/1.0\r\nNats-Msg-Id: "u8);
        at += Encoding.UTF8.GetBytes(record.MsgId, span[at..]);
        at += Put(span[at..], "\r\n\r\n"u8);
        at += Put(span[at..], record.Payload.Span);
        at += Put(span[at..], "\r\n"u8);
        _pending.Advance(at);
    }

    private static int Put(Span<byte> into, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(into);
        return bytes.Length;
    }

    private static int Number(Span<byte> into, long value)
    {
        Utf8Formatter.TryFormat(value, into, out int written);
        return written;
    }

    /// <summary>Writes everything <see cref="Add"/> gathered in one go. A failure closes the connection and throws.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_pending.WrittenCount == 0)
        {
            return;
        }
        try
        {
            await WriteRawAsync(_pending.WrittenMemory, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _pending.ResetWrittenCount();
        }
    }

    private async ValueTask WriteRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        if (ClosedReason is { } closed)
        {
            throw new NatsException("The connection to NATS is closed (" + closed + ")");
        }
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            Close(ex.Message);
            throw new NatsException("Writing to NATS failed: " + ex.Message, ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>The acks that arrived since the last call, in arrival order; the list is the caller's until the next call.</summary>
    public List<NatsPubAck> TakeAcks()
    {
        _taken.Clear();
        lock (_ackLock)
        {
            (_acks, _taken) = (_taken, _acks);
        }
        return _taken;
    }

    private async Task ReadLoopAsync()
    {
        var pong = "PONG\r\n"u8.ToArray();
        try
        {
            while (ClosedReason is null)
            {
                await FillAsync(_closing.Token).ConfigureAwait(false);
                int pings = Process(out long acked);
                if (_read.Count > 0)
                {
                    lock (_ackLock)
                    {
                        _acks.AddRange(_read);
                    }
                    _read.Clear();
                }
                if (_fatal is { } fatal)
                {
                    Close(fatal);
                    return;
                }
                for (int i = 0; i < pings; i++)
                {
                    await WriteRawAsync(pong, _closing.Token).ConfigureAwait(false);
                }
                if (acked >= 0)
                {
                    _onActivity(acked);
                }
            }
        }
        catch (Exception ex)
        {
            Close(ex is OperationCanceledException ? "closed" : ex.Message);
        }
    }

    /// <summary>Handles every whole server message in the buffer; returns the PINGs to answer.</summary>
    private int Process(out long acked)
    {
        acked = -1;
        int pings = 0;
        while (_fatal is null)
        {
            var buffered = _buffer.AsSpan(_start, _end - _start);
            int eol = buffered.IndexOf("\r\n"u8);
            if (eol < 0)
            {
                if (buffered.Length >= MaxLineBytes)
                {
                    _fatal = "a line longer than " + MaxLineBytes + " bytes from the server";
                }
                break;
            }
            var line = buffered[..eol];
            if (line.StartsWith("MSG "u8) || line.StartsWith("HMSG "u8))
            {
                bool headers = line[0] == (byte)'H';
                if (!TryMessageSizes(line, headers, out long ackId, out int headerBytes, out int totalBytes))
                {
                    _fatal = "a malformed message from the server";
                    break;
                }
                if (totalBytes > MaxInboundMessageBytes)
                {
                    _fatal = "a message larger than " + MaxInboundMessageBytes + " bytes from the server";
                    break;
                }
                if (buffered.Length - eol - 4 < totalBytes)
                {
                    break;
                }
                var body = buffered.Slice(eol + 2, totalBytes);
                _start += eol + 2 + totalBytes + 2;
                if (ackId >= 0)
                {
                    var ack = headers ? HeaderedAck(ackId, body[..headerBytes], body[headerBytes..]) : NatsPubAckReader.Read(ackId, body);
                    _read.Add(ack);
                    acked = Math.Max(acked, ackId);
                }
                continue;
            }
            _start += eol + 2;
            if (line.SequenceEqual("PING"u8))
            {
                pings++;
            }
            else if (line.SequenceEqual("PONG"u8))
            {
                _pongs++;
            }
            else if (line.StartsWith("-ERR"u8))
            {
                var text = Encoding.UTF8.GetString(line[4..]).Trim().Trim('\'');
                text = text.Length <= 200 ? text : text[..200];
                if (text.StartsWith("Permissions Violation", StringComparison.OrdinalIgnoreCase))
                {
                    // The server keeps the connection: the publish it refused gets no ack and is retried after the timeout.
                    LastServerError = text;
                }
                else
                {
                    _fatal = text;
                }
            }
            else if (!line.StartsWith("INFO "u8) && !line.SequenceEqual("+OK"u8))
            {
                _fatal = "an unknown message from the server";
            }
        }
        if (_start == _end)
        {
            _start = _end = 0;
        }
        return pings;
    }

    /// <summary>
    /// <c>MSG subject sid [reply] size</c> or <c>HMSG subject sid [reply] hdr total</c>; the ack id is the number at the end
    /// of the subject when it is this connection's inbox, otherwise -1 (a message that is not an ack is skipped).
    /// </summary>
    private bool TryMessageSizes(ReadOnlySpan<byte> line, bool headers, out long ackId, out int headerBytes, out int totalBytes)
    {
        ackId = -1;
        headerBytes = 0;
        totalBytes = 0;
        Span<Range> parts = stackalloc Range[7];
        int count = 0;
        foreach (var part in line.Split((byte)' '))
        {
            if (line[part].IsEmpty)
            {
                continue;
            }
            if (count == parts.Length)
            {
                return false;
            }
            parts[count++] = part;
        }
        int expected = headers ? 5 : 4;
        if (count != expected && count != expected + 1)
        {
            return false;
        }
        if (!Utf8Parser.TryParse(line[parts[count - 1]], out totalBytes, out int used) || used != line[parts[count - 1]].Length || totalBytes < 0)
        {
            return false;
        }
        if (headers && (!Utf8Parser.TryParse(line[parts[count - 2]], out headerBytes, out used) || used != line[parts[count - 2]].Length
            || headerBytes < 0 || headerBytes > totalBytes))
        {
            return false;
        }
        var subject = line[parts[1]];
        if (subject.StartsWith(_inboxPrefix) && Utf8Parser.TryParse(subject[_inboxPrefix.Length..], out long id, out used)
            && used == subject.Length - _inboxPrefix.Length)
        {
            ackId = id;
        }
        return true;
    }

    /// <summary>A reply with headers: a status line (<c>NATS/1.0 503</c>: no stream takes the subject) or an ack with headers.</summary>
    private static NatsPubAck HeaderedAck(long ackId, ReadOnlySpan<byte> header, ReadOnlySpan<byte> body)
    {
        int eol = header.IndexOf("\r\n"u8);
        var status = eol < 0 ? header : header[..eol];
        if (status.Length >= 12 && status[8] == (byte)' ' && Utf8Parser.TryParse(status.Slice(9, 3), out int code, out _))
        {
            if (code == 503)
            {
                return NatsPubAck.NoResponders(ackId);
            }
            return new NatsPubAck(ackId, false, false, new NATS.Client.JetStream.Models.ApiError
            {
                Code = code,
                Description = Encoding.UTF8.GetString(status[12..]).Trim(),
            });
        }
        return NatsPubAckReader.Read(ackId, body);
    }

    private void Close(string reason)
    {
        if (Interlocked.CompareExchange(ref _closedReason, reason, null) is not null)
        {
            return;
        }
        try
        {
            _closing.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already disposed.
        }
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The socket is gone already.
        }
        _onActivity(long.MaxValue);
    }

    public async ValueTask DisposeAsync()
    {
        Close("closed by the gateway");
        await _reader.ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
        _writeLock.Dispose();
        _closing.Dispose();
    }
}
