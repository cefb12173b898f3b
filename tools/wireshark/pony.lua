-- Wireshark dissector for Pony Express (pony/WIRE.md, wire version 2): the fixed header,
-- SACK blocks, and the one-sided request/response records of OS_REQ/OS_RESP.
-- Use: tshark -X lua_script:tools/wireshark/pony.lua -r FILE   (or copy it to the personal
-- plugins folder). Registers on UDP 4793 (PONY_UDP_PORT_DEFAULT); preference pony.udp_port.
--
-- Layout tables below are the only place offsets live: a new header field (wire version 3)
-- is one line in HDR (and a version check in hdr_fields); a new type or status is one line
-- in TYPES / OS_STATUS. Field names follow pony/wire.h so filters read like the C code.

local pony = Proto("pony", "Pony Express")

local DEFAULT_PORT = 4793
local HDR_FIXED = 72
local SACK_MAX = 4
local OS_REQ_HDR = 32
local OS_RESP_HDR = 12

-- Values are the wire contract (pony/wire.h enum pony_type).
local TYPES = {
	[1] = "SYN", [2] = "SYN_ACK", [3] = "RST", [4] = "FIN", [5] = "FIN_ACK", [6] = "ACK",
	[7] = "PROBE", [16] = "DATA", [17] = "OPEN", [18] = "OPEN_ACK", [19] = "CLOSE",
	[20] = "CREDIT", [21] = "NOP", [32] = "OS_REQ", [33] = "OS_RESP", [34] = "WRITE",
	[35] = "WRITE_ACK", [36] = "ATOMIC", [37] = "ATOMIC_RESP",
}
local T_DATA, T_OS_REQ, T_OS_RESP = 16, 32, 33

-- pony/onesided.h enum pony_os_opcode and PONY_OS_STATUSES (in order).
local OS_OPCODES = { [1] = "READ", [2] = "WRITE", [3] = "READ_INDIRECT", [4] = "SCAN_READ" }
local OS_WRITE, OS_SCAN_READ = 2, 4
local OS_STATUS = {
	[0] = "OK", [1] = "NO_REGION", [2] = "BAD_KEY", [3] = "REVOKED", [4] = "PERM",
	[5] = "RANGE", [6] = "BAD_DESC", [7] = "NOT_FOUND", [8] = "TOO_BIG", [9] = "BAD_REQ",
	[10] = "NO_TARGET", [11] = "BAD_TABLE", [12] = "BUSY",
}

local f = pony.fields
f.version = ProtoField.uint8("pony.version", "Version", base.DEC)
f.type = ProtoField.uint8("pony.type", "Type", base.DEC, TYPES)
f.flags = ProtoField.uint8("pony.flags", "Flags", base.HEX)
f.flag_ack_valid = ProtoField.bool("pony.flags.ack_valid", "ACK_VALID", 8, nil, 0x01)
f.flag_retx = ProtoField.bool("pony.flags.retx", "RETX", 8, nil, 0x02)
f.flag_ack_now = ProtoField.bool("pony.flags.ack_now", "ACK_NOW", 8, nil, 0x04)
f.n_sack = ProtoField.uint8("pony.n_sack", "SACK blocks", base.DEC)
f.src_flow = ProtoField.uint32("pony.src_flow", "Source flow", base.HEX)
f.dst_flow = ProtoField.uint32("pony.dst_flow", "Destination flow", base.HEX)
f.seq = ProtoField.uint32("pony.seq", "Sequence number", base.DEC)
f.ack = ProtoField.uint32("pony.ack", "Cumulative ack", base.DEC)
f.ts = ProtoField.uint64("pony.ts", "Timestamp", base.DEC)
f.ts_echo = ProtoField.uint64("pony.ts_echo", "Timestamp echo", base.DEC)
f.echo_delay = ProtoField.uint32("pony.echo_delay", "Echo delay (ns)", base.DEC)
f.sid = ProtoField.uint32("pony.sid", "Stream id (receiver)", base.DEC)
f.src_sid = ProtoField.uint32("pony.src_sid",
	"Stream id (sender); DATA: class, 0 normal 1 critical 2 scavenger", base.DEC)
f.msg_id = ProtoField.uint32("pony.msg_id", "Message id", base.DEC)
f.msg_len = ProtoField.uint32("pony.msg_len", "Message length", base.DEC)
f.offset = ProtoField.uint32("pony.offset", "Segment offset", base.DEC)
f.aux = ProtoField.uint32("pony.aux", "Aux", base.DEC)
f.payload_len = ProtoField.uint16("pony.payload_len", "Payload length", base.DEC)
f.reserved = ProtoField.uint16("pony.reserved", "Reserved", base.HEX)
f.csum = ProtoField.uint32("pony.csum", "Checksum (CRC-32C)", base.HEX)
f.csum_status = ProtoField.string("pony.csum.status", "Checksum status")
f.sack = ProtoField.bytes("pony.sack", "SACK block")
f.sack_start = ProtoField.uint32("pony.sack.start", "Start", base.DEC)
f.sack_end = ProtoField.uint32("pony.sack.end", "End", base.DEC)
f.payload = ProtoField.bytes("pony.payload", "Payload")
f.os_rec = ProtoField.bytes("pony.os", "One-sided record")
f.os_opcode = ProtoField.uint8("pony.os.opcode", "Opcode", base.DEC, OS_OPCODES)
f.os_flags = ProtoField.uint8("pony.os.flags", "Flags", base.HEX)
f.os_flag_ptr = ProtoField.bool("pony.os.flags.ptr", "PTR", 8, nil, 0x01)
f.os_data_len = ProtoField.uint16("pony.os.data_len", "Data length", base.DEC)
f.os_op_id = ProtoField.uint32("pony.os.op_id", "Op id", base.HEX)
f.os_region = ProtoField.uint32("pony.os.region", "Region", base.DEC)
f.os_len = ProtoField.uint32("pony.os.len", "Length", base.DEC)
f.os_key = ProtoField.uint64("pony.os.key", "Region key", base.HEX)
f.os_off = ProtoField.uint64("pony.os.off", "Offset", base.DEC)
f.os_status = ProtoField.uint8("pony.os.status", "Status", base.DEC, OS_STATUS)
f.os_reserved = ProtoField.uint8("pony.os.reserved", "Reserved", base.HEX)
f.os_data = ProtoField.bytes("pony.os.data", "Data")

local e_malformed = ProtoExpert.new("pony.malformed", "Malformed Pony packet",
	expert.group.MALFORMED, expert.severity.ERROR)
local e_csum = ProtoExpert.new("pony.csum.bad", "Bad Pony checksum",
	expert.group.CHECKSUM, expert.severity.ERROR)
pony.experts = { e_malformed, e_csum }

pony.prefs.udp_port = Pref.uint("UDP port", DEFAULT_PORT, "Pony UDP port (element key udp_port)")
pony.prefs.check_csum = Pref.bool("Verify checksum", true, "Compute the CRC-32C of each packet")

-- Header fields in wire order: {offset, length, field}. Offsets are pony/wire.c's OFF_*.
local HDR = {
	{ 0, 1, f.version }, { 1, 1, f.type }, { 2, 1, f.flags }, { 3, 1, f.n_sack },
	{ 4, 4, f.src_flow }, { 8, 4, f.dst_flow }, { 12, 4, f.seq }, { 16, 4, f.ack },
	{ 20, 8, f.ts }, { 28, 8, f.ts_echo }, { 36, 4, f.echo_delay }, { 40, 4, f.sid },
	{ 44, 4, f.src_sid }, { 48, 4, f.msg_id }, { 52, 4, f.msg_len }, { 56, 4, f.offset },
	{ 60, 4, f.aux }, { 64, 2, f.payload_len }, { 66, 2, f.reserved }, { 68, 4, f.csum },
}

-- CRC-32C (Castagnoli, reflected 0x82F63B78), as pony_wire_csum: header with csum as 0.
local crc_table = {}
for i = 0, 255 do
	local c = i
	for _ = 1, 8 do
		if bit32.band(c, 1) ~= 0 then
			c = bit32.bxor(bit32.rshift(c, 1), 0x82F63B78)
		else
			c = bit32.rshift(c, 1)
		end
	end
	crc_table[i] = c
end

local function crc32c(tvb, hdr_len, total)
	local c = 0xffffffff
	for i = 0, total - 1 do
		local b = (i >= 68 and i < 72) and 0 or tvb(i, 1):uint()
		c = bit32.bxor(crc_table[bit32.band(bit32.bxor(c, b), 0xff)], bit32.rshift(c, 8))
	end
	return bit32.bnot(c)
end

-- One-sided record layouts (pony/onesided.h, WIRE.md "One-sided payloads"): header size,
-- where data_len is, the fields in order {offset, length, field}, and a one-line summary
-- (returns it and the name collected for the Info column). A new record field is one line.
local OS_REQ = {
	hdr = OS_REQ_HDR, dlen_at = 2,
	fields = {
		{ 0, 1, f.os_opcode }, { 1, 1, f.os_flags, f.os_flag_ptr }, { 2, 2, f.os_data_len },
		{ 4, 4, f.os_op_id }, { 8, 4, f.os_region }, { 12, 4, f.os_len }, { 16, 8, f.os_key },
		{ 24, 8, f.os_off },
	},
	summary = function(tvb, pos)
		local op = tvb(pos, 1):uint()
		local name = OS_OPCODES[op] or ("op " .. op)
		return string.format("Request %s region %u off %u len %u", name, tvb(pos + 8, 4):uint(),
			tvb(pos + 24, 8):uint64():tonumber(), tvb(pos + 12, 4):uint()), name
	end,
}
local OS_RESP = {
	hdr = OS_RESP_HDR, dlen_at = 6,
	fields = {
		{ 0, 4, f.os_op_id }, { 4, 1, f.os_status }, { 5, 1, f.os_reserved },
		{ 6, 2, f.os_data_len }, { 8, 4, f.os_len },
	},
	summary = function(tvb, pos)
		local st = tvb(pos + 4, 1):uint()
		local name = OS_STATUS[st] or ("status " .. st)
		return string.format("Response op 0x%08x %s len %u", tvb(pos, 4):uint(), name,
			tvb(pos + 8, 4):uint()), name
	end,
}

-- Decode n records of layout L from tvb into tree (names gets each record's opcode or status
-- name); returns the number decoded and whether the payload was exactly n whole records.
local function os_records(L, tvb, tree, n, names)
	local pos, len, done = 0, tvb:len(), 0
	while done < n and pos + L.hdr <= len do
		local dlen = tvb(pos + L.dlen_at, 2):uint()
		local t = tree:add(f.os_rec, tvb(pos, math.min(L.hdr + dlen, len - pos)))
		local text, name = L.summary(tvb, pos)
		t:set_text(text)
		names[#names + 1] = name
		for _, fl in ipairs(L.fields) do
			local it = t:add(fl[3], tvb(pos + fl[1], fl[2]))
			if fl[4] then
				it:add(fl[4], tvb(pos + fl[1], fl[2]))
			end
		end
		if dlen > 0 then
			if pos + L.hdr + dlen > len then
				t:add_proto_expert_info(e_malformed, "record data runs past the payload")
				return done + 1, false
			end
			t:add(f.os_data, tvb(pos + L.hdr, dlen))
		end
		pos = pos + L.hdr + dlen
		done = done + 1
	end
	return done, done == n and pos == len
end

function pony.dissector(tvb, pinfo, root)
	local len = tvb:len()
	if len < 1 then
		return 0
	end
	pinfo.cols.protocol = "Pony"
	local tree = root:add(pony, tvb())
	if len < HDR_FIXED then
		tree:add(f.version, tvb(0, 1))
		tree:add_proto_expert_info(e_malformed, "shorter than the 72-byte header")
		return len
	end
	local version = tvb(0, 1):uint()
	local ptype = tvb(1, 1):uint()
	local n_sack = tvb(3, 1):uint()
	for _, h in ipairs(HDR) do
		local it = tree:add(h[3], tvb(h[1], h[2]))
		if h[3] == f.flags then
			it:add(f.flag_ack_valid, tvb(2, 1))
			it:add(f.flag_retx, tvb(2, 1))
			it:add(f.flag_ack_now, tvb(2, 1))
		end
	end
	if version ~= 2 then
		tree:add_proto_expert_info(e_malformed, "wire version " .. version .. " (this dissector knows 2)")
	end
	local hdr_len = HDR_FIXED + 8 * math.min(n_sack, SACK_MAX)
	if n_sack > SACK_MAX or hdr_len > len then
		tree:add_proto_expert_info(e_malformed, "bad n_sack " .. n_sack)
		return len
	end
	for i = 0, n_sack - 1 do
		local o = HDR_FIXED + 8 * i
		local st = tree:add(f.sack, tvb(o, 8))
		st:set_text(string.format("SACK [%u, %u)", tvb(o, 4):uint(), tvb(o + 4, 4):uint()))
		st:add(f.sack_start, tvb(o, 4))
		st:add(f.sack_end, tvb(o + 4, 4))
	end
	local plen = tvb(64, 2):uint()
	if hdr_len + plen ~= len then
		tree:add_proto_expert_info(e_malformed, string.format(
			"payload_len %u but %u bytes follow the header", plen, len - hdr_len))
	end
	if pony.prefs.check_csum then
		local want = tvb(68, 4):uint()
		local got = crc32c(tvb, hdr_len, math.min(len, hdr_len + plen))
		if got == want then
			tree:add(f.csum_status, "good")
		else
			tree:add(f.csum_status, string.format("bad (computed 0x%08x)", got))
				:add_proto_expert_info(e_csum)
		end
	end

	local name = TYPES[ptype] or ("type " .. ptype)
	local info = string.format("%s flow %08x>%08x seq=%u", name, tvb(4, 4):uint(),
		tvb(8, 4):uint(), tvb(12, 4):uint())
	if bit32.band(tvb(2, 1):uint(), 0x01) ~= 0 then
		info = info .. string.format(" ack=%u", tvb(16, 4):uint())
	end
	if n_sack > 0 then
		info = info .. " sack=" .. n_sack
	end
	if ptype == T_DATA then
		info = info .. string.format(" sid=%u msg=%u off=%u/%u", tvb(40, 4):uint(),
			tvb(48, 4):uint(), tvb(56, 4):uint(), tvb(52, 4):uint())
	end
	local avail = math.min(plen, len - hdr_len)
	if avail > 0 then
		local ptvb = tvb(hdr_len, avail):tvb()
		local pt = tree:add(f.payload, tvb(hdr_len, avail))
		if ptype == T_OS_REQ or ptype == T_OS_RESP then
			local n = tvb(60, 4):uint()
			local got, ok
			local names = {}
			got, ok = os_records(ptype == T_OS_REQ and OS_REQ or OS_RESP, ptvb, pt, n, names)
			pt:set_text(string.format("%u one-sided %s records", got,
				ptype == T_OS_REQ and "request" or "response"))
			if not ok then
				pt:add_proto_expert_info(e_malformed, "payload is not exactly aux=" .. n .. " records")
			end
			-- Op names in the Info column: what one looks for first in a capture.
			info = info .. string.format(" %s=%s", ptype == T_OS_REQ and "ops" or "results",
				table.concat(names, ","))
		end
	end
	pinfo.cols.info = info
	return len
end

local registered_port = nil
local function register_port(port)
	local udp = DissectorTable.get("udp.port")
	if registered_port then
		udp:remove(registered_port, pony)
	end
	udp:add(port, pony)
	registered_port = port
end

function pony.prefs_changed()
	if pony.prefs.udp_port ~= registered_port then
		register_port(pony.prefs.udp_port)
	end
end

register_port(DEFAULT_PORT)
