using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace CdpGateway.Telemetry.Nats;

/// <summary>
/// The NATS sink's bounded on-disk queue (<c>DATA_DIR/nats-spool</c>, mode 0700, files 0600): events waiting for
/// JetStream while it is away, slow or behind, kept in publication order across gateway restarts.
/// </summary>
/// <remarks>
/// Append-only segment files of <see cref="NatsSpoolRecord"/>s, named by a number that gives their order. The oldest
/// segment is read one record at a time; <see cref="Commit"/> marks the record read last as acknowledged, and a segment
/// whose every record is acknowledged is deleted. <see cref="Prepend"/> writes a segment in front of all others (events
/// that were held in memory and are older than everything spooled). At start every segment is checked: the first
/// record that is short or fails its checksum ends the segment (a write torn by a crash); it and what follows are cut
/// off with a warning. Where reading stood in the oldest segment is saved at <see cref="Dispose"/> (<c>cursor</c>), so a
/// clean restart does not resend what was acknowledged; after a crash the resent copies carry their original message
/// ids, which JetStream drops within its duplicate window.
/// Not thread-safe: the sink calls it under its own lock.
/// </remarks>
public sealed partial class NatsSpool : IDisposable
{
    private const string SegmentSuffix = ".seg";
    private const string CursorFile = "cursor";

    // New spools number their segments from here, which leaves room below for prepended ones.
    private const long FirstIndex = 1_000_000_000_000L;

    private const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly ILogger _logger;
    private readonly List<Segment> _segments = [];
    private readonly Queue<(Segment Segment, long End)> _read = new();
    private readonly long _segmentBytes;

    private NatsSpool(string directory, long limitBytes, ILogger logger)
    {
        Directory = directory;
        LimitBytes = limitBytes;
        _logger = logger;
        // Small enough that acknowledged events leave the disk soon, large enough that files stay few.
        _segmentBytes = Math.Clamp(limitBytes / 16, 64 * 1024, 16 * 1024 * 1024);
    }

    public string Directory { get; }

    public long LimitBytes { get; }

    /// <summary>Bytes the segment files take.</summary>
    public long Bytes { get; private set; }

    /// <summary>Records not yet acknowledged (read or not).</summary>
    public long Events { get; private set; }

    /// <summary>A record is waiting to be read.</summary>
    public bool HasUnread => _segments.Exists(s => s.ReadOffset < s.Length);

    /// <summary>Opens (creating it private) the spool directory and checks what an earlier run left there.</summary>
    public static NatsSpool Open(string directory, long limitBytes, ILogger logger)
    {
        var spool = new NatsSpool(directory, limitBytes, logger);
        spool.PrepareDirectory();
        spool.Load();
        return spool;
    }

    private void PrepareDirectory()
    {
        System.IO.Directory.CreateDirectory(Directory, PrivateDirectory);
        var mode = File.GetUnixFileMode(Directory);
        if (mode != PrivateDirectory)
        {
            // The spool holds the same envelopes as the events file (DevTools URLs): the owner's alone.
            File.SetUnixFileMode(Directory, PrivateDirectory);
        }
    }

    private void Load()
    {
        var found = new List<(long Index, string Path)>();
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "*" + SegmentSuffix))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out long index))
            {
                found.Add((index, path));
            }
        }
        found.Sort((a, b) => a.Index.CompareTo(b.Index));
        var (cursorIndex, cursorOffset) = ReadCursor();
        foreach (var (index, path) in found)
        {
            var segment = new Segment(index, path);
            var boundaries = Check(segment);
            if (segment.Length == 0)
            {
                File.Delete(path);
                continue;
            }
            if (_segments.Count == 0 && index == cursorIndex && boundaries.BinarySearch(cursorOffset) is int at and >= 0)
            {
                // Records before the cursor were acknowledged in the run that wrote it.
                segment.Consumed = segment.ReadOffset = cursorOffset;
                segment.Records -= at;
            }
            _segments.Add(segment);
            Bytes += segment.Length;
            Events += segment.Records;
        }
        File.Delete(Path.Combine(Directory, CursorFile));
        if (Events > 0)
        {
            LogFound(_logger, Events, Bytes, Directory);
        }
    }

    /// <summary>Walks a segment's records, cutting it at the first bad one; returns each record's start offset.</summary>
    private List<long> Check(Segment segment)
    {
        var starts = new List<long>();
        using var file = new FileStream(segment.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        if ((File.GetUnixFileMode(file.SafeFileHandle) & ~PrivateFile) != 0)
        {
            File.SetUnixFileMode(file.SafeFileHandle, PrivateFile);
        }
        long length = file.Length;
        long offset = 0;
        Span<byte> header = stackalloc byte[NatsSpoolRecord.HeaderBytes];
        string? problem = null;
        while (offset < length)
        {
            if (length - offset < NatsSpoolRecord.HeaderBytes)
            {
                problem = "a record cut short in its header";
                break;
            }
            file.Position = offset;
            file.ReadExactly(header);
            uint bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(header);
            if (bodyLength > NatsSpoolRecord.MaxBodyBytes || bodyLength > length - offset - NatsSpoolRecord.HeaderBytes)
            {
                problem = "a record cut short or with an impossible length";
                break;
            }
            var body = new byte[bodyLength];
            file.ReadExactly(body);
            if (System.IO.Hashing.Crc32.HashToUInt32(body) != BinaryPrimitives.ReadUInt32LittleEndian(header.Slice(4)) || NatsSpoolRecord.DecodeBody(body) is null)
            {
                problem = "a record whose checksum does not match";
                break;
            }
            starts.Add(offset);
            offset += NatsSpoolRecord.HeaderBytes + bodyLength;
            segment.Records++;
        }
        if (problem is not null)
        {
            LogTornTail(_logger, segment.Path, problem, length - offset, segment.Records);
            file.SetLength(offset);
        }
        segment.Length = offset;
        return starts;
    }

    private (long Index, long Offset) ReadCursor()
    {
        try
        {
            var parts = File.ReadAllText(Path.Combine(Directory, CursorFile)).Split(' ', StringSplitOptions.TrimEntries);
            if (parts.Length == 2
                && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long index)
                && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long offset))
            {
                return (index, offset);
            }
        }
        catch (FileNotFoundException)
        {
        }
        return (-1, -1);
    }

    /// <summary>Appends one record behind everything spooled; false when it does not fit under the limit.</summary>
    public bool TryAppend(NatsSpoolRecord record)
    {
        int size = record.DiskBytes;
        if (Bytes + size > LimitBytes)
        {
            return false;
        }
        var tail = _segments.Count > 0 ? _segments[^1] : null;
        if (tail is null || tail.Length + size > _segmentBytes && tail.Length > 0)
        {
            tail = new Segment(tail is null ? FirstIndex : tail.Index + 1, SegmentPath(tail is null ? FirstIndex : tail.Index + 1));
            _segments.Add(tail);
        }
        Write(tail, record.Encode());
        tail.Records++;
        Events++;
        return true;
    }

    /// <summary>Writes <paramref name="records"/> in front of everything spooled; false (nothing written) when they do not fit.</summary>
    public bool Prepend(IReadOnlyList<NatsSpoolRecord> records)
    {
        if (records.Count == 0)
        {
            return true;
        }
        // In front of records already read would put them behind what is in flight: the caller rewinds first.
        if (_read.Count > 0)
        {
            throw new InvalidOperationException("Prepend while spooled records are in flight");
        }
        long size = records.Sum(r => (long)r.DiskBytes);
        if (Bytes + size > LimitBytes)
        {
            return false;
        }
        long index = _segments.Count > 0 ? _segments[0].Index - 1 : FirstIndex;
        var head = new Segment(index, SegmentPath(index));
        _segments.Insert(0, head);
        foreach (var record in records)
        {
            Write(head, record.Encode());
            head.Records++;
            Events++;
        }
        return true;
    }

    private void Write(Segment segment, byte[] bytes)
    {
        var handle = segment.Open(create: true);
        RandomAccess.Write(handle, bytes, segment.Length);
        segment.Length += bytes.Length;
        Bytes += bytes.Length;
    }

    /// <summary>
    /// The oldest record not yet read, or null. Records read and not yet committed are the publisher's window: each
    /// <see cref="Commit"/> acknowledges the oldest of them, <see cref="Rewind"/> makes them all unread again.
    /// </summary>
    public NatsSpoolRecord? ReadNext()
    {
        foreach (var segment in _segments)
        {
            if (segment.ReadOffset >= segment.Length)
            {
                continue;
            }
            var handle = segment.Open(create: false);
            Span<byte> header = stackalloc byte[NatsSpoolRecord.HeaderBytes];
            RandomAccess.Read(handle, header, segment.ReadOffset);
            int bodyLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(header);
            var body = new byte[bodyLength];
            RandomAccess.Read(handle, body, segment.ReadOffset + NatsSpoolRecord.HeaderBytes);
            segment.ReadOffset += NatsSpoolRecord.HeaderBytes + bodyLength;
            _read.Enqueue((segment, segment.ReadOffset));
            return NatsSpoolRecord.DecodeBody(body);
        }
        return null;
    }

    /// <summary>Records read and not yet committed.</summary>
    public int InFlight => _read.Count;

    /// <summary>
    /// The oldest record read and not yet committed was acknowledged: it leaves the spool, and its segment with it once
    /// every record there is acknowledged. Commits come in read order, so only the contiguous acknowledged prefix ever
    /// leaves the disk.
    /// </summary>
    public void Commit()
    {
        var (segment, end) = _read.Dequeue();
        segment.Consumed = end;
        segment.Records--;
        Events--;
        if (segment.Consumed == segment.Length)
        {
            // The tail too: the next append starts a new segment.
            Remove(segment);
        }
    }

    /// <summary>Every record read and not yet committed is unread again: the next <see cref="ReadNext"/> gives the oldest.</summary>
    public void Rewind()
    {
        _read.Clear();
        foreach (var segment in _segments)
        {
            segment.ReadOffset = segment.Consumed;
        }
    }

    private void Remove(Segment segment)
    {
        segment.Close();
        File.Delete(segment.Path);
        Bytes -= segment.Length;
        _segments.Remove(segment);
    }

    private string SegmentPath(long index) =>
        Path.Combine(Directory, index.ToString("D20", CultureInfo.InvariantCulture) + SegmentSuffix);

    /// <summary>Saves where reading stood (records read but not committed are sent again next time) and closes the files.</summary>
    public void Dispose()
    {
        if (_segments.Count > 0 && _segments[0].Consumed > 0)
        {
            var cursor = Path.Combine(Directory, CursorFile);
            using (var file = new FileStream(cursor, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = PrivateFile }))
            {
                file.Write(System.Text.Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{_segments[0].Index} {_segments[0].Consumed}")));
            }
        }
        foreach (var segment in _segments)
        {
            segment.Close();
        }
    }

    private sealed class Segment(long index, string path)
    {
        private FileStream? _file;

        public long Index { get; } = index;
        public string Path { get; } = path;
        public long Length { get; set; }

        /// <summary>Bytes from the start whose records were acknowledged.</summary>
        public long Consumed { get; set; }

        /// <summary>Bytes from the start whose records were read.</summary>
        public long ReadOffset { get; set; }

        /// <summary>Records not yet acknowledged.</summary>
        public long Records { get; set; }

        /// <summary>The segment's file, read and written by offset (never through the stream's position or buffer).</summary>
        public SafeFileHandle Open(bool create)
        {
            _file ??= new FileStream(Path, new FileStreamOptions
            {
                Mode = create ? FileMode.OpenOrCreate : FileMode.Open,
                Access = FileAccess.ReadWrite,
                Share = FileShare.Read | FileShare.Delete,
                BufferSize = 0,
                // Given at creation, so a new segment is never readable beyond its owner, not even for a moment.
                UnixCreateMode = create ? PrivateFile : null,
            });
            return _file.SafeFileHandle;
        }

        public void Close()
        {
            _file?.Dispose();
            _file = null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The NATS spool {Directory} holds {Events} events ({Bytes} bytes) from before; they are sent first")]
    private static partial void LogFound(ILogger logger, long events, long bytes, string directory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The NATS spool segment {Path} ends in {Problem}: {Bytes} bytes discarded, {Records} whole records kept")]
    private static partial void LogTornTail(ILogger logger, string path, string problem, long bytes, long records);
}
