use super::*;

#[test]
fn fields_do_not_overlap() {
    let mut seen = [0u64; KEY_WORDS];
    for f in Field::ALL.iter().copied().chain((0..16).filter_map(Field::reg)) {
        for k in 0..f.words() {
            let i = f.word as usize + k;
            assert_eq!(seen[i] & f.word_mask(), 0, "{} overlaps", f.name);
            seen[i] |= f.word_mask();
        }
    }
}

#[test]
fn set_get_round_trip_and_truncate() {
    let mut k = FlowKey::default();
    k.set(Field::ETH_DST, 0x0102_0304_0506);
    k.set(Field::ETH_TYPE, 0x0800);
    k.set(Field::IPV6_SRC, 0x2001_0db8 << 96 | 7);
    k.set(Field::reg(3).unwrap(), 0x1_2345_6789);
    assert_eq!(k.get(Field::ETH_DST), 0x0102_0304_0506);
    assert_eq!(k.get(Field::ETH_TYPE), 0x0800);
    assert_eq!(k.get(Field::IPV6_SRC), 0x2001_0db8 << 96 | 7);
    assert_eq!(k.get(Field::reg(3).unwrap()), 0x2345_6789);
    assert_eq!(k.get(Field::reg(2).unwrap()), 0);
    assert_eq!(Field::reg(16), None);
}

#[test]
fn mini_key_expands_to_dense_and_reads_absent_words_as_zero() {
    let mut k = FlowKey::default();
    k.set(Field::IN_PORT, 3);
    k.set(Field::NW_DST, 0x0a00_0001);
    k.set(Field::TP_DST, 80);
    let mini = k.to_mini();
    assert_eq!(mini.len, 3);
    assert_eq!(mini.expand(), k);
    assert_eq!(mini.word(word::ETH_SRC), 0);
    assert_eq!(mini.get(Field::TP_DST), 80);
    assert_eq!(mini.word(KEY_WORDS + 5), 0);
}

#[test]
fn meta_tunnel_options_round_trip_and_cut() {
    let mut m = PacketMeta::new(1);
    assert!(m.set_tunnel_options(&[1, 2, 3, 4, 5]));
    assert_eq!(m.tunnel_options(), vec![1, 2, 3, 4, 5]);
    assert!(!m.set_tunnel_options(&[9; 70]));
    assert_eq!(m.tunnel_options().len(), 64);
    assert!(!m.set(Field::ETH_DST, 1));
}
