using System.Globalization;
using System.Text.Json;

namespace CdpGateway.Browser;

/// <summary>
/// The Chromium flags set at run time through <c>/chromium/flags</c>, persisted as
/// <c>DATA_DIR/flags.json</c> (<c>{"flags":[...]}</c>) so they survive a gateway restart. Writes go to a
/// temporary file renamed over the old one, so a crash mid-write never leaves a torn file.
/// </summary>
public sealed class RuntimeFlags
{
    public const string FileName = "flags.json";

    private readonly string _path;
    private readonly Lock _gate = new();
    private IReadOnlyList<string> _flags = [];

    public RuntimeFlags(string dataDir)
    {
        _path = Path.Combine(Path.GetFullPath(dataDir), FileName);
    }

    public string FilePath => _path;

    public IReadOnlyList<string> Current
    {
        get
        {
            lock (_gate)
            {
                return _flags;
            }
        }
    }

    /// <summary>Reads the persisted flags; a missing file means none. Throws <see cref="InvalidDataException"/> on a bad file.</summary>
    public IReadOnlyList<string> Load()
    {
        IReadOnlyList<string> flags;
        try
        {
            using var stream = File.OpenRead(_path);
            using var doc = JsonDocument.Parse(stream);
            flags = Parse(doc.RootElement, out var error)
                ?? throw new InvalidDataException($"{_path}: {error}");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            flags = [];
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{_path} is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            // A string that is not valid Unicode (a lone surrogate escape) is only found when it is read.
            throw new InvalidDataException($"{_path} holds a string that is not valid Unicode: {e.Message}", e);
        }
        lock (_gate)
        {
            _flags = flags;
        }
        return flags;
    }

    /// <summary>Makes <paramref name="flags"/> current without writing them: the file stays as it is, ignored.</summary>
    public void Use(IReadOnlyList<string> flags)
    {
        lock (_gate)
        {
            _flags = flags;
        }
    }

    /// <summary>Persists <paramref name="flags"/> (validated by the caller) and makes them current.</summary>
    public void Save(IReadOnlyList<string> flags)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        var temp = _path + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        // A leftover temp file would keep its old mode through the truncation; created afresh it is private from the start.
        File.Delete(temp);
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        using (var stream = new FileStream(temp, options))
        {
            using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                writer.WriteStartObject();
                writer.WriteStartArray("flags");
                foreach (var flag in flags)
                {
                    writer.WriteStringValue(flag);
                }
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, _path, overwrite: true);
        lock (_gate)
        {
            _flags = flags;
        }
    }

    /// <summary>
    /// Reads <c>{"flags":[...]}</c>: every entry a string that starts with <c>--</c>, has a name, holds no
    /// control characters and is not one the gateway owns. Returns null and a message naming the bad flag otherwise.
    /// </summary>
    public static IReadOnlyList<string>? Parse(JsonElement body, out string? error)
    {
        error = null;
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("flags", out var array))
        {
            error = "expected a JSON object {\"flags\":[\"--flag\",\"--name=value\"]}";
            return null;
        }
        if (array.ValueKind != JsonValueKind.Array)
        {
            error = "\"flags\" must be a list of strings like \"--name\" or \"--name=value\"";
            return null;
        }
        var flags = new List<string>();
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                error = $"flag {item.GetRawText()} is not a string; flags look like \"--name\" or \"--name=value\"";
                return null;
            }
            var flag = item.GetString()!;
            if ((error = Check(flag)) is not null)
            {
                return null;
            }
            flags.Add(flag);
        }
        return flags;
    }

    /// <summary>
    /// Null when <paramref name="flag"/> is a well-formed runtime flag the gateway does not own, else why not. Messages
    /// name the flag by its name only: its value may carry a path or a secret, and may be long.
    /// </summary>
    public static string? Check(string flag)
    {
        var name = ChromiumCommandLine.NameOf(flag);
        var shown = JsonSerializer.Serialize(FlagPolicy.Shorten(name), BrowserJsonContext.Default.String);
        if (flag.Length == 0)
        {
            return "flag \"\" is empty; flags look like \"--name\" or \"--name=value\"";
        }
        if (!flag.StartsWith("--", StringComparison.Ordinal) || name.Length <= 2)
        {
            return $"flag {shown} does not start with \"--name\"";
        }
        if (flag.Any(char.IsControl))
        {
            return $"flag {shown} contains a control character";
        }
        if (name.Any(char.IsWhiteSpace))
        {
            return $"flag {shown} has whitespace in its name";
        }
        if (FlagPolicy.Classify(FlagPolicy.NameOf(flag), null) == FlagClass.GatewayOwned)
        {
            return $"flag {shown} is set by the gateway itself ({FlagPolicy.ClassName(FlagClass.GatewayOwned)}) and can never be changed at run time, not even with --allow-runtime-flag";
        }
        return null;
    }
}
