using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Plugins.Log;

/// <summary>
/// A log line format with CoreDNS's placeholders (<c>{remote} {port} {type} {name} {rcode} {>rflags} {duration}</c>...),
/// split once at setup into literal text and placeholders so formatting a line only appends.
/// </summary>
public sealed class LogFormat
{
    public const string EmptyValue = "-";
    public const string Common = "{remote}:{port} - {>id} \"{type} {class} {name} {proto} {size} {>do} {>bufsize}\" {rcode} {>rflags} {rsize} {duration}";
    public const string Combined = Common + " \"{>opcode}\"";

    private enum Field { Literal, Remote, Port, Local, Type, Class, Name, Proto, Size, Do, BufSize, Id, Opcode, Rcode, RFlags, RSize, Duration, When, Unknown }

    private readonly (Field Field, string Text)[] _parts;

    private LogFormat((Field, string)[] parts, string text)
    {
        _parts = parts;
        Text = text;
    }

    public string Text { get; }

    public static LogFormat Parse(string format)
    {
        format = format.Replace("{common}", Common, StringComparison.Ordinal).Replace("{combined}", Combined, StringComparison.Ordinal);
        var parts = new List<(Field, string)>();
        var position = 0;
        while (position < format.Length)
        {
            var open = format.IndexOf('{', position);
            var close = open < 0 ? -1 : format.IndexOf('}', open);
            if (open < 0 || close < 0)
            {
                parts.Add((Field.Literal, format[position..]));
                break;
            }
            if (open > position) parts.Add((Field.Literal, format[position..open]));
            var name = format[open..(close + 1)];
            parts.Add((FieldOf(name), name));
            position = close + 1;
        }
        return new LogFormat(parts.ToArray(), format);
    }

    private static Field FieldOf(string placeholder) => placeholder switch
    {
        "{remote}" => Field.Remote,
        "{port}" => Field.Port,
        "{local}" => Field.Local,
        "{type}" => Field.Type,
        "{class}" => Field.Class,
        "{name}" => Field.Name,
        "{proto}" => Field.Proto,
        "{size}" => Field.Size,
        "{>do}" => Field.Do,
        "{>bufsize}" => Field.BufSize,
        "{>id}" => Field.Id,
        "{>opcode}" => Field.Opcode,
        "{rcode}" => Field.Rcode,
        "{>rflags}" => Field.RFlags,
        "{rsize}" => Field.RSize,
        "{duration}" => Field.Duration,
        "{when}" => Field.When,
        _ => Field.Unknown,
    };

    /// <summary>Formats the line for a finished query; <paramref name="response"/> describes what was sent.</summary>
    public string Format(DnsRequestContext request, in LoggedResponse response)
    {
        var builder = new StringBuilder(160);
        var invariant = CultureInfo.InvariantCulture;
        foreach (var (field, text) in _parts)
        {
            switch (field)
            {
                case Field.Literal: builder.Append(text); break;
                case Field.Remote:
                    var address = request.RemoteEndPoint.Address;
                    if (address.AddressFamily == AddressFamily.InterNetworkV6) builder.Append('[').Append(address).Append(']');
                    else builder.Append(address);
                    break;
                case Field.Port: builder.Append(request.RemoteEndPoint.Port.ToString(invariant)); break;
                case Field.Local: builder.Append(EmptyValue); break;
                case Field.Type: builder.Append(DnsTypeNames.ToText(request.QType)); break;
                case Field.Class: builder.Append(ClassText(request.QClass)); break;
                case Field.Name: builder.Append(request.Name); break;
                case Field.Proto: builder.Append(request.Transport == DnsTransport.Tcp ? "tcp" : "udp"); break;
                case Field.Size: builder.Append(request.QueryLength.ToString(invariant)); break;
                case Field.Do: builder.Append(request.DnssecOk ? "true" : "false"); break;
                case Field.BufSize: builder.Append(BufferSize(request).ToString(invariant)); break;
                case Field.Id: builder.Append(request.Id.ToString(invariant)); break;
                case Field.Opcode: builder.Append(request.Opcode == 0 ? "QUERY" : request.Opcode.ToString(invariant)); break;
                case Field.Rcode: builder.Append(response.Written ? DnsRcode.ToText(response.Rcode) : EmptyValue); break;
                case Field.RFlags: AppendFlags(builder, response); break;
                case Field.RSize: builder.Append(response.Written ? response.Length.ToString(invariant) : EmptyValue); break;
                case Field.Duration:
                    var seconds = Stopwatch.GetElapsedTime(request.StartTimestamp).TotalSeconds;
                    builder.Append(seconds.ToString("0.#########", invariant)).Append('s');
                    break;
                case Field.When: builder.Append(DateTime.Now.ToString("dd/MMM/yyyy:HH:mm:ss zzz", invariant)); break;
                default: builder.Append(EmptyValue); break;
            }
        }
        return builder.ToString();
    }

    /// <summary>The requester's buffer as CoreDNS reports it: 65535 over TCP, else the EDNS size but at least 512.</summary>
    private static int BufferSize(DnsRequestContext request) =>
        request.Transport == DnsTransport.Tcp ? 65535 : request.HasEdns ? Math.Max((int)request.EdnsUdpSize, 512) : 512;

    private static string ClassText(ushort @class) => @class switch
    {
        DnsClass.IN => "IN",
        DnsClass.CH => "CH",
        4 => "HS",
        254 => "NONE",
        DnsClass.ANY => "ANY",
        _ => "CLASS" + @class.ToString(CultureInfo.InvariantCulture),
    };

    private static void AppendFlags(StringBuilder builder, in LoggedResponse response)
    {
        if (!response.Written)
        {
            builder.Append(EmptyValue);
            return;
        }
        var flags = response.Flags;
        var start = builder.Length;
        void Add(StringBuilder b, bool set, string name)
        {
            if (!set) return;
            if (b.Length > start) b.Append(',');
            b.Append(name);
        }
        Add(builder, (flags & 0x8000) != 0, "qr");
        Add(builder, (flags & 0x0400) != 0, "aa");
        Add(builder, (flags & 0x0200) != 0, "tc");
        Add(builder, (flags & 0x0100) != 0, "rd");
        Add(builder, (flags & 0x0080) != 0, "ra");
        Add(builder, (flags & 0x0040) != 0, "z");
        Add(builder, (flags & 0x0020) != 0, "ad");
        Add(builder, (flags & 0x0010) != 0, "cd");
    }
}

/// <summary>What the log plugin saw of the response: header flags, rcode, section counts and size.</summary>
public readonly record struct LoggedResponse(bool Written, int Rcode, ushort Flags, ushort Answers, ushort Authorities, int Length)
{
    public static LoggedResponse FromWire(ReadOnlySpan<byte> message, int length)
    {
        if (message.Length < 12) return new LoggedResponse(true, DnsRcode.ServFail, 0, 0, 0, length);
        var flags = BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
        return new LoggedResponse(true, flags & 0xF, flags, BinaryPrimitives.ReadUInt16BigEndian(message[6..]),
            BinaryPrimitives.ReadUInt16BigEndian(message[8..]), length);
    }

    /// <summary>CoreDNS's response classes: success, denial (NXDOMAIN, NODATA), error (everything else).</summary>
    public LogClass Classify()
    {
        if (!Written) return LogClass.Error;
        if (Rcode == DnsRcode.NxDomain) return LogClass.Denial;
        if (Rcode != DnsRcode.NoError) return LogClass.Error;
        return Answers == 0 && Authorities > 0 ? LogClass.Denial : LogClass.Success;
    }
}

[Flags]
public enum LogClass { None = 0, Success = 1, Denial = 2, Error = 4, All = Success | Denial | Error }
