/// A column of unsigned integers stored in 4 bytes each until a value needs 8.
///
/// V8 object ids and self sizes always fit in 32 bits; HPROF addresses and a few huge Java
/// arrays do not. Storing 4 bytes per node where that suffices keeps a 14-million-node graph
/// 110 MB smaller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum U64Column {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl Default for U64Column {
    fn default() -> Self {
        U64Column::Narrow(Vec::new())
    }
}

impl U64Column {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        U64Column::Narrow(Vec::with_capacity(capacity))
    }

    /// `len` zeros, in 4 bytes each when `max` (the largest value it will hold) fits.
    pub fn filled(len: usize, max: u64) -> Self {
        if max <= u32::MAX as u64 {
            U64Column::Narrow(vec![0; len])
        } else {
            U64Column::Wide(vec![0; len])
        }
    }

    /// Appends a value, widening the whole column the first time one needs 64 bits.
    #[inline]
    pub fn push(&mut self, value: u64) {
        match self {
            U64Column::Narrow(v) => match u32::try_from(value) {
                Ok(small) => v.push(small),
                Err(_) => {
                    let mut wide: Vec<u64> = Vec::with_capacity(v.capacity().max(v.len() + 1));
                    wide.extend(v.iter().map(|&x| x as u64));
                    wide.push(value);
                    *self = U64Column::Wide(wide);
                }
            },
            U64Column::Wide(v) => v.push(value),
        }
    }

    #[inline]
    pub fn get(&self, index: usize) -> u64 {
        match self {
            U64Column::Narrow(v) => v[index] as u64,
            U64Column::Wide(v) => v[index],
        }
    }

    /// Overwrites one value, widening the column if needed.
    pub fn set(&mut self, index: usize, value: u64) {
        match self {
            U64Column::Narrow(v) => match u32::try_from(value) {
                Ok(small) => v[index] = small,
                Err(_) => {
                    let mut wide: Vec<u64> = v.iter().map(|&x| x as u64).collect();
                    wide[index] = value;
                    *self = U64Column::Wide(wide);
                }
            },
            U64Column::Wide(v) => v[index] = value,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            U64Column::Narrow(v) => v.len(),
            U64Column::Wide(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    pub fn sum(&self) -> u64 {
        match self {
            U64Column::Narrow(v) => v.iter().map(|&x| x as u64).sum(),
            U64Column::Wide(v) => v.iter().sum(),
        }
    }

    pub fn shrink_to_fit(&mut self) {
        match self {
            U64Column::Narrow(v) => v.shrink_to_fit(),
            U64Column::Wide(v) => v.shrink_to_fit(),
        }
    }

    /// Bytes of heap memory held.
    pub fn heap_bytes(&self) -> usize {
        match self {
            U64Column::Narrow(v) => v.capacity() * 4,
            U64Column::Wide(v) => v.capacity() * 8,
        }
    }
}

impl From<Vec<u64>> for U64Column {
    fn from(values: Vec<u64>) -> Self {
        let mut column = U64Column::with_capacity(values.len());
        for v in values {
            column.push(v);
        }
        column
    }
}

impl FromIterator<u64> for U64Column {
    fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> Self {
        let mut column = U64Column::new();
        for v in iter {
            column.push(v);
        }
        column
    }
}

#[cfg(test)]
mod tests {
    use super::U64Column;

    #[test]
    fn widens_on_demand_and_keeps_values() {
        let mut c = U64Column::new();
        c.push(1);
        c.push(u32::MAX as u64);
        assert!(matches!(c, U64Column::Narrow(_)));
        c.push(1 << 40);
        assert!(matches!(c, U64Column::Wide(_)));
        assert_eq!(c.iter().collect::<Vec<_>>(), [1, u32::MAX as u64, 1 << 40]);
        assert_eq!(c.sum(), 1 + u32::MAX as u64 + (1 << 40));
        let mut d: U64Column = vec![5, 6].into();
        d.set(0, 1 << 33);
        assert_eq!(d.get(0), 1 << 33);
        assert_eq!(d.get(1), 6);
    }
}
