package sink

// crc32Combine returns the CRC32C of a+b from crc1, the CRC32C of a, crc2,
// that of b, and len2, the length of b, without reading either. It lets a
// local Compose join files with an in-kernel copy (copy_file_range) and
// still know the CRC32C of the result from the CRC32Cs of its parts.
//
// This is zlib's crc32_combine for the Castagnoli polynomial: appending
// len2 zero bytes to a is a linear map on its CRC, applied here as a 32x32
// matrix over GF(2) raised to the power len2 by repeated squaring.
func crc32Combine(crc1, crc2 uint32, len2 int64) uint32 {
	if len2 <= 0 {
		return crc1
	}
	var even, odd [32]uint32
	odd[0] = 0x82f63b78 // the Castagnoli polynomial, reversed: one zero bit
	row := uint32(1)
	for n := 1; n < 32; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		// Each round squares the operator (one zero byte, then two, four...)
		// and applies it for the matching bit of len2.
		gf2Square(&even, &odd)
		if len2&1 != 0 {
			crc1 = gf2Times(&even, crc1)
		}
		if len2 >>= 1; len2 == 0 {
			break
		}
		gf2Square(&odd, &even)
		if len2&1 != 0 {
			crc1 = gf2Times(&odd, crc1)
		}
		if len2 >>= 1; len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[32]uint32) {
	for n := range mat {
		square[n] = gf2Times(mat, mat[n])
	}
}
